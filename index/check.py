"""`index check`: every way the vector index, the lexical index, the passage store and the manifest can
disagree, each reported as one line that says what is wrong (an empty list: the generation is sound)."""

from __future__ import annotations

from pathlib import Path

from index import lexical
from index import vectors as vecs
from index.errors import StoreError
from index.generations import LEXICAL, MANIFEST, VECTORS, resolve_generation, sha256, vector_files
from index.manifest import Manifest
from index.passages import first_few
from index.segments import store_problems


def check_index(path: Path) -> tuple[Path | None, list[str]]:
    """(generation, problems) for the index at `path` (its `current` generation, or a generation folder)."""
    try:
        generation = resolve_generation(Path(path))
        manifest = Manifest.read(generation)
    except StoreError as exc:
        return None, [str(exc)]
    problems: list[str] = []
    for name, entry in manifest.files.items():
        f = generation / name
        if not f.is_file():
            problems.append(f"{name}: missing (the manifest lists it)")
        elif f.stat().st_size != entry.bytes:
            problems.append(f"{name}: {f.stat().st_size:,} bytes, the manifest says {entry.bytes:,}")
        elif sha256(f) != entry.sha256:
            problems.append(f"{name}: contents differ from the manifest's checksum (sha256)")
    counts = manifest.counts
    want_passages, want_vectors = counts.passages, counts.vectors

    ntotal = None
    try:
        index = vecs.read_parts([generation / name for name in vector_files(manifest.files)])
        ntotal = vecs.count(index)
        if ntotal != want_vectors:
            problems.append(f"{VECTORS}: {ntotal:,} vectors, the manifest says {want_vectors:,}")
        if vecs.dim(index) != manifest.dim:
            problems.append(f"{VECTORS}: dimension {vecs.dim(index)}, the manifest says {manifest.dim}")
        del index
    except RuntimeError as exc:
        problems.append(f"{VECTORS}: unreadable ({exc})")
    if counts.deleted != want_vectors - want_passages:
        problems.append(
            f"{MANIFEST}: counts disagree: vectors {want_vectors:,} != passages {want_passages:,} + deleted"
        )

    store_rows, found = store_problems(generation, manifest.files, counts, ntotal)
    problems += found

    if manifest.lexical is not None:
        try:
            lexical_rows = lexical.rows(generation / LEXICAL)
        except (ValueError, OSError) as exc:
            problems.append(f"{LEXICAL}: unreadable ({exc})")
        else:
            documents = manifest.lexical.documents
            documents = len(lexical_rows) if documents is None else documents
            if len(lexical_rows) != documents:
                problems.append(f"{LEXICAL}: {len(lexical_rows):,} documents, the manifest says {documents:,}")
            if len(set(lexical_rows)) != len(lexical_rows):
                problems.append(f"{LEXICAL}: some rows are indexed twice")
            if missing := store_rows - set(lexical_rows):
                problems.append(f"{LEXICAL}: stored passages missing from the lexical index, rows {first_few(missing)}")
            if extra := set(lexical_rows) - store_rows:
                problems.append(f"{LEXICAL}: documents for rows not in the store (deleted?), rows {first_few(extra)}")
    return generation, problems
