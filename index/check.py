"""`index check`: every way the vector index, the lexical index, the passage store and the manifest can
disagree, each reported as one line that says what is wrong (an empty list: the generation is sound)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index import lexical
from index import vectors as vecs
from index.errors import StoreError
from index.store import (
    LEXICAL,
    MANIFEST,
    VECTORS,
    _sha256,
    read_manifest,
    resolve_generation,
    store_problems,
)

SHOW = 5  # ids listed per problem


def _some(items: Any) -> str:
    items = sorted(items)
    shown = ", ".join(map(str, items[:SHOW]))
    return shown + (f" and {len(items) - SHOW:,} more" if len(items) > SHOW else "")


def check_index(path: Path) -> tuple[Path | None, list[str]]:
    """(generation, problems) for the index at `path` (its `current` generation, or a generation folder)."""
    try:
        generation = resolve_generation(Path(path))
        manifest = read_manifest(generation)
    except StoreError as exc:
        return None, [str(exc)]
    problems: list[str] = []
    for name, meta in manifest.get("files", {}).items():
        f = generation / name
        if not f.is_file():
            problems.append(f"{name}: missing (the manifest lists it)")
        elif f.stat().st_size != meta["bytes"]:
            problems.append(f"{name}: {f.stat().st_size:,} bytes, the manifest says {meta['bytes']:,}")
        elif _sha256(f) != meta["sha256"]:
            problems.append(f"{name}: contents differ from the manifest's checksum (sha256)")
    counts = manifest.get("counts", {})
    want_passages = counts.get("passages")
    want_vectors = counts.get("vectors", want_passages)

    ntotal = None
    try:
        index = vecs.read(generation / VECTORS)
        ntotal = vecs.count(index)
        if ntotal != want_vectors:
            problems.append(f"{VECTORS}: {ntotal:,} vectors, the manifest says {want_vectors:,}")
        if vecs.dim(index) != manifest.get("dim"):
            problems.append(f"{VECTORS}: dimension {vecs.dim(index)}, the manifest says {manifest.get('dim')}")
        del index
    except RuntimeError as exc:
        problems.append(f"{VECTORS}: unreadable ({exc})")
    if (
        want_vectors is not None
        and want_passages is not None
        and counts.get("deleted", 0) != want_vectors - want_passages
    ):
        problems.append(
            f"{MANIFEST}: counts disagree: vectors {want_vectors:,} != passages {want_passages:,} + deleted"
        )

    store_rows, found = store_problems(generation, counts, ntotal)
    problems += found

    if "lexical" in manifest:
        try:
            lexical_rows = lexical.rows(generation / LEXICAL)
        except (ValueError, OSError) as exc:
            problems.append(f"{LEXICAL}: unreadable ({exc})")
        else:
            documents = manifest["lexical"].get("documents", len(lexical_rows))
            if len(lexical_rows) != documents:
                problems.append(f"{LEXICAL}: {len(lexical_rows):,} documents, the manifest says {documents:,}")
            if len(set(lexical_rows)) != len(lexical_rows):
                problems.append(f"{LEXICAL}: some rows are indexed twice")
            if missing := store_rows - set(lexical_rows):
                problems.append(f"{LEXICAL}: stored passages missing from the lexical index, rows {_some(missing)}")
            if extra := set(lexical_rows) - store_rows:
                problems.append(f"{LEXICAL}: documents for rows not in the store (deleted?), rows {_some(extra)}")
    return generation, problems
