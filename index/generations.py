"""The index directory's layout: the ONLY module that knows its file names; generations, locks, publish, prune.

    <index>/current -> generations/<id>     symlink, swapped atomically when a build commits
    <index>/generations/<id>/passages.sqlite3   articles and passages (text, offsets, metadata)
    <index>/generations/<id>/vectors.faiss      one vector per passage; FAISS row == passages.row
    <index>/generations/<id>/vectors-<row>.faiss  the vectors adds appended, from that row on (hard-linked onward)
    <index>/generations/<id>/passages-<row>.sqlite3  the articles and passages of the same rows (a store segment)
    <index>/generations/<id>/deleted.json       articles deleted from the segments since they were written
    <index>/generations/<id>/near-duplicates.json  the near-duplicate groups, when an edit folded them whole
    <index>/generations/<id>/near-duplicates-<n>.json  the groups edits changed since (index/group_layers.py)
    <index>/generations/<id>/lexical/           BM25 index (tantivy) of title + text, one field; its row == passages.row
    <index>/generations/<id>/manifest.json      written last: model, counts, index type, sizes, versions

A build writes a new generation in a temporary folder, writes the manifest last, renames the folder into
place and then swaps `current`, so a reader sees the old index or the new one, never half of one. An add or
delete (index/edit.py) does the same from a copy of the live generation.

One writer at a time per index: every writer holds `.write.lock` (flock). A reader holds a shared flock on its
generation's manifest (`lease`), so pruning never removes a generation in use.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from index.errors import IndexBusy, IndexCorrupt, IndexMissing

if TYPE_CHECKING:
    from index.manifest import FileEntry, Manifest

DEFAULT_INDEX = "data/index"  # where the CLIs and the service look when no index is named
MANIFEST = "manifest.json"
STORE = "passages.sqlite3"
VECTORS = "vectors.faiss"
DELETED = "deleted.json"
GROUPS = "near-duplicates.json"
LEXICAL = "lexical"
CURRENT = "current"
GENERATIONS = "generations"
LOCK = ".write.lock"
KEEP_GENERATIONS = 2  # the live one and the one before it (a service may still be reading it)
REBUILD = "rebuild it with: scripts/rebuild-index --index DIR ARTICLES..."


def build_hint(path: Path) -> str:
    return f"build one with: scripts/rebuild-index --index {path} ARTICLES..."


def resolve_generation(path: Path) -> Path:
    """The generation folder an index path points at: `<index>/current`, or a generation folder itself."""
    path = Path(path)
    if (path / MANIFEST).is_file():
        return path
    current = path / CURRENT
    if current.exists() and (current / MANIFEST).is_file():
        return current.resolve()
    if not path.exists():
        raise IndexMissing(f"no index at {path}; {build_hint(path)}")
    raise IndexMissing(f"{path} holds no built index (no {CURRENT}/{MANIFEST}); {build_hint(path)}")


def new_generation_id() -> str:
    """Sortable by creation time (to the microsecond: updates come faster than one a second), then unique."""
    now = time.time()
    return (
        time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
        + f".{int(now * 1e6) % 1_000_000:06d}-"
        + uuid.uuid4().hex[:8]
    )


def new_generation(index_dir: Path) -> tuple[str, Path]:
    """(id, temporary folder) of a generation being written; `publish` moves it into place."""
    gen_id = new_generation_id()
    tmp = Path(index_dir) / GENERATIONS / f".tmp-{gen_id}"
    tmp.mkdir(parents=True)
    return gen_id, tmp


def acquire_write_lock(index_dir: Path, wait: float | None = 0.0) -> IO[str]:
    """Take the index's single-writer lock; wait up to `wait` seconds (None: as long as it takes)."""
    lock = open(Path(index_dir) / LOCK, "w")  # noqa: SIM115 - held until the writer commits or aborts
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except BlockingIOError as exc:
            if deadline is not None and time.monotonic() >= deadline:
                lock.close()
                raise IndexBusy(f"another build or update is writing {index_dir}; wait for it to finish") from exc
            time.sleep(0.05)


def release_write_lock(lock: IO[str]) -> None:
    if not lock.closed:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


@contextlib.contextmanager
def committing(abort: Callable[[], None], lock: IO[str]) -> Iterator[None]:
    """Around a writer's commit: any failure drops the new generation (`abort`); the lock is released either way."""
    try:
        yield
    except BaseException:
        abort()
        raise
    finally:
        release_write_lock(lock)


def lease(generation: Path) -> IO[bytes]:
    """A shared lock on the generation's manifest, held while a reader lives (close it to release): pruning
    skips a generation someone reads."""
    held = open(generation / MANIFEST, "rb")  # noqa: SIM115 - the caller closes it
    fcntl.flock(held, fcntl.LOCK_SH)
    return held


def _in_use(generation: Path) -> bool:
    """A reader (this process or another) holds a lease on the generation."""
    try:
        probe = open(generation / MANIFEST, "rb")  # noqa: SIM115
    except OSError:
        return False
    with probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def share(source: Path, target: Path) -> None:
    """Share an immutable file with the base generation (a hard link), or copy it where links fail."""
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links
        shutil.copyfile(source, target)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lexical_files(folder: Path) -> list[str]:
    return sorted(str(f.relative_to(folder)) for f in (folder / LEXICAL).rglob("*") if f.is_file())


def vector_part(first_row: int) -> str:
    """The file of the vectors an add appended, from `first_row` on (vectors.faiss holds the rows before)."""
    return f"vectors-{first_row:012d}.faiss"


def first_row(vector_file: str) -> int:
    """The first row a vector file holds (0 for vectors.faiss)."""
    return 0 if vector_file == VECTORS else int(vector_file.removeprefix("vectors-").removesuffix(".faiss"))


def vector_files(names: Iterable[str]) -> list[str]:
    """The vector files among a generation's file names (its manifest's, or its folder's), in row order: the
    build's, then each part adds wrote."""
    return [VECTORS, *sorted(n for n in names if n.startswith("vectors-") and n.endswith(".faiss"))]


def store_part(first_row: int) -> str:
    """The store segment holding the articles whose rows start at `first_row` (passages.sqlite3 for row 0)."""
    return STORE if first_row == 0 else f"passages-{first_row:012d}.sqlite3"


def store_files(names: Iterable[str]) -> list[tuple[int, str]]:
    """(first row, file) of the store segments among a generation's file names, in row order."""
    parts = sorted(n for n in names if n.startswith("passages-") and n.endswith(".sqlite3"))
    return [(0, STORE), *((int(n.removeprefix("passages-").removesuffix(".sqlite3")), n) for n in parts)]


def group_part(seq: int) -> str:
    """The file of the near-duplicate group changes an edit wrote, the `seq`th since they were last folded."""
    return f"near-duplicates-{seq:06d}.json"


def group_seq(part: str) -> int:
    return int(part.removeprefix("near-duplicates-").removesuffix(".json"))


def group_files(names: Iterable[str]) -> list[str]:
    """The files of group changes among a generation's file names, oldest first."""
    return sorted((n for n in names if n.startswith("near-duplicates-") and n.endswith(".json")), key=group_seq)


def data_files(folder: Path) -> list[str]:
    """Every file a generation's manifest lists: the store's segments, its deletes and groups, the vectors and
    the lexical index's files."""
    names = [f.name for f in folder.iterdir()]
    small = [*(n for n in (DELETED, GROUPS) if n in names), *group_files(names)]
    return [*(n for _, n in store_files(names)), *small, *vector_files(names), *lexical_files(folder)]


def file_entries(
    folder: Path, names: Iterable[str], base: Path | None = None, known: Mapping[str, FileEntry] | None = None
) -> dict[str, FileEntry]:
    """{name: FileEntry(bytes, sha256)} for the manifest. A file hard-linked from the `base` generation (same
    inode: same bytes) lends its `known` sha256, so an update re-hashes only what it wrote."""
    from index.manifest import FileEntry

    out: dict[str, FileEntry] = {}
    for name in names:
        st = (folder / name).stat()
        prior = (known or {}).get(name)
        same = False
        if prior is not None and base is not None and prior.bytes == st.st_size:
            with contextlib.suppress(OSError):
                was = (base / name).stat()
                same = (was.st_dev, was.st_ino) == (st.st_dev, st.st_ino)
        out[name] = FileEntry(st.st_size, prior.sha256 if same and prior else sha256(folder / name))
    return out


def file_identity(path: Path) -> tuple[int, int, int, int]:
    """What names a file's bytes while it lives: (device, inode, size, mtime); a file hard-linked into a later
    generation keeps it, a rewritten one does not."""
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def check_files(generation: Path, files: Mapping[str, FileEntry], full: bool = False) -> None:
    """Refuse an index whose files are missing or differ from the manifest (sizes; sha256 too when `full`)."""
    for name, entry in files.items():
        path = generation / name
        if not path.is_file():
            raise IndexCorrupt(f"{path} is missing; {REBUILD}")
        if path.stat().st_size != entry.bytes:
            raise IndexCorrupt(f"{path} is {path.stat().st_size} bytes, manifest says {entry.bytes}; {REBUILD}")
        if full and sha256(path) != entry.sha256:
            raise IndexCorrupt(f"{path} does not match its checksum in the manifest; {REBUILD}")


def read_json(generation: Path) -> dict[str, Any]:
    """The generation's manifest as stored (index/manifest.py reads it into a Manifest)."""
    try:
        found = json.loads((generation / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"{generation / MANIFEST} is unreadable ({exc}); {REBUILD}") from exc
    if not isinstance(found, dict):
        raise IndexCorrupt(f"{generation / MANIFEST} is not a JSON object; {REBUILD}")
    return found


def read_list(path: Path, key: str) -> list[list[Any]]:
    """The list under `key` of one of a generation's small JSON files (deletes, groups)."""
    try:
        found = json.loads(path.read_text())[key]
        if not isinstance(found, list):
            raise TypeError(f"{key} is not a list")
        return found
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{path} is unreadable ({exc}); {REBUILD}") from exc


def write_list(path: Path, key: str, items: Iterable[Iterable[Any]]) -> None:
    path.write_text(json.dumps({key: [list(i) for i in items]}, separators=(",", ":")))


def publish(index_dir: Path, tmp: Path, manifest: Manifest) -> Path:
    """fsync the files, write the manifest last, move the folder into place and swap `current` atomically."""
    for name in manifest.files:
        with open(tmp / name, "rb+") as data:
            os.fsync(data.fileno())
    with open(tmp / MANIFEST, "w") as out:
        json.dump(manifest.to_json(), out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    _fsync_dir(tmp)
    final = index_dir / GENERATIONS / manifest.generation
    os.rename(tmp, final)
    _fsync_dir(index_dir / GENERATIONS)
    link = index_dir / f".{CURRENT}-{manifest.generation}"
    os.symlink(Path(GENERATIONS) / manifest.generation, link)
    os.replace(link, index_dir / CURRENT)  # the atomic switch
    _fsync_dir(index_dir)
    prune(index_dir, keep=tmp)
    return final


def prune(index_dir: Path, keep: Path | None = None) -> None:
    """Drop old generations (all but the live one and the newest before it, and any a reader still holds) and
    whatever a killed writer left behind. Call only while holding the write lock."""
    gens = index_dir / GENERATIONS
    live = (index_dir / CURRENT).resolve().name
    done = sorted((p for p in gens.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
    for old in [p for p in done if p.name != live][: max(0, len(done) - KEEP_GENERATIONS)]:
        if not _in_use(old):
            shutil.rmtree(old, ignore_errors=True)
    for stale in gens.glob(".tmp-*"):  # left by a writer that was killed
        if stale != keep:
            shutil.rmtree(stale, ignore_errors=True)
    for link in index_dir.glob(f".{CURRENT}-*"):  # a symlink made but never swapped in (killed in between)
        with contextlib.suppress(OSError):
            link.unlink()
