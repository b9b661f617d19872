"""Hot reload: the Searcher of the index's live generation, swapped in when `current` moves.

A request leases the searcher it starts with and keeps it to the end, so a swap never changes an index under
a running search; the old searcher is closed when its last lease ends. A background thread checks `current`
(a readlink) every `poll_seconds` and loads a new generation beside the old one before swapping, reusing the
vector parts and row facts the two share (an add loads about its batch); `reload()` does it at once (POST
/admin/reload, and after a write through the API). A generation that fails to load is
logged and skipped: the service keeps serving the one it has.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import StoreError
from index.generations import resolve_generation
from index.reader import IndexReader
from search.readside import ReadSide
from search.searcher import Searcher
from search.shards import ShardedReader, resolve_shards, shard_paths

log = logging.getLogger("dateline.reload")


def _next_reader(generation: Path, serving: ReadSide) -> ReadSide:
    """The reader of a new generation, reusing what it shares with the one served (`IndexReader`'s `reuse`)."""
    return IndexReader(generation, reuse=serving if isinstance(serving, IndexReader) else None)


class LiveSearcher:
    """Thread-safe holder of the current Searcher; `lease()` for a request, `reload()` to follow the index."""

    def __init__(
        self,
        index_path: Path,
        searcher: Searcher[ReadSide],
        open_reader: Callable[[Path, ReadSide], ReadSide] | None = None,
        resolve: Callable[[Path], Path] = resolve_generation,
    ) -> None:
        self.index_path = Path(index_path)
        self._searcher = searcher
        self._open_reader = open_reader or _next_reader  # (generation, the reader served until now) -> its reader
        self._resolve = resolve  # index folder -> the generation it serves now, named as reader.generation is
        self._leases: dict[Searcher[ReadSide], int] = {searcher: 0}
        self._lock = threading.Lock()  # guards _searcher and _leases
        self._reload_lock = threading.Lock()  # one reload at a time
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.reloads = 0
        self.last_error: str | None = None
        self.observe_reload: Callable[[float], None] = lambda seconds: None  # each swap's load time (metrics)

    @classmethod
    def following(cls, index_path: Path, searcher: Searcher[ReadSide]) -> LiveSearcher:
        """The live searcher of an index folder, or of a folder of shards (each shard's `current` followed)."""
        if not shard_paths(index_path):
            return cls(index_path, searcher)
        return cls(
            index_path,
            searcher,
            open_reader=lambda _, __: ShardedReader.open([index_path]),
            resolve=resolve_shards,
        )

    @property
    def searcher(self) -> Searcher[ReadSide]:
        """The current searcher (for metadata; a search should hold a `lease()`)."""
        return self._searcher

    @contextmanager
    def lease(self) -> Iterator[Searcher[ReadSide]]:
        with self._lock:
            searcher = self._searcher
            self._leases[searcher] += 1
        try:
            yield searcher
        finally:
            with self._lock:
                self._leases[searcher] -= 1
                retire = searcher is not self._searcher and self._leases[searcher] == 0
                if retire:
                    del self._leases[searcher]
            if retire:
                searcher.close()

    def reload(self) -> bool:
        """Swap in the generation `current` points to, if it is not the one served; True if it swapped."""
        with self._reload_lock:
            try:
                target = self._resolve(self.index_path)
                if target == self._searcher.reader.generation:
                    return False
                started = time.perf_counter()
                reader = self._open_reader(target, self._searcher.reader)
            except (StoreError, OSError, RuntimeError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("reload of %s failed, still serving %s: %s", self.index_path, self.generation, exc)
                return False
            old = self._searcher
            new = Searcher(reader, old.encoder, old.reranker, old.config)
            with self._lock:
                self._searcher = new
                self._leases[new] = 0
                retire = self._leases[old] == 0
                if retire:
                    del self._leases[old]
            if retire:
                old.close()
            self.reloads += 1
            self.last_error = None
            seconds = time.perf_counter() - started
            self.observe_reload(seconds)
            log.info("now serving generation %s (loaded in %.2f s)", target.name, seconds)
            return True

    @property
    def generation(self) -> str:
        return self._searcher.reader.generation.name

    def watch(self, poll_seconds: float) -> None:
        """Check `current` every `poll_seconds` in a daemon thread until close()."""

        def loop() -> None:
            while not self._stop.wait(poll_seconds):
                try:
                    self.reload()
                except Exception:  # never let the watcher die: the next tick tries again
                    log.exception("reload check failed")

        self._watcher = threading.Thread(target=loop, name="dateline-reload", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        with self._lock:
            searchers = list(self._leases)
            self._leases.clear()
        for searcher in searchers:
            searcher.close()
