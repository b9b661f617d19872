"""The service's writes in a process of their own, so they do not share an interpreter with the request threads.

Under many concurrent searches a write in a request thread gets a small share of the one interpreter (GIL) that
every request thread runs on, and takes many times its idle time (figures: docs/benchmarks.md, "A stream of
small adds"). In a process of its own it competes only for the cores. One worker process,
started with the service, holds the adds' encoder and applies each group of writes (index.update.add_batches);
what goes between the two is the batches' articles and the reports (pickled). The service still reloads, in
its own process, before it answers.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from index.errors import WriteFailed
from index.update import Batch, UpdateReport, add_batches

# The worker process's encoder, loaded once by its initializer (a process pool's worker state lives in globals),
# or why it could not be: each write then fails saying so (a failed initializer would only break the pool).
_encoder: Any = None
_no_encoder = ""


def _start(make_encoder: Callable[[], Any], threads: int) -> None:
    from index import vectors

    global _encoder, _no_encoder
    vectors.set_threads(threads)  # as the service does: more threads stall beside the requests on 2 cores
    try:
        _encoder = make_encoder()
    except Exception as exc:
        _no_encoder = f"{type(exc).__name__}: {exc}"


def _apply(index: Path, batches: Sequence[Batch], cache_path: Path | None, wait: float) -> list[UpdateReport]:
    if _encoder is None:
        raise WriteFailed(f"the write process could not load the encoder ({_no_encoder}); nothing was written")
    return add_batches(index, batches, _encoder, cache_path=cache_path, wait=wait)


class WriteWorker:
    """One worker process applying groups of batches; `make_encoder` (picklable) makes its encoder there."""

    def __init__(self, make_encoder: Callable[[], Any], threads: int = 1) -> None:
        self._start_args = (make_encoder, threads)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the service has threads (a fork copies their locks in whatever state they are in).
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start, initargs=self._start_args)
        pool.submit(int)  # start the process and load the encoder now, not at the first write
        return pool

    def add_batches(
        self, index: Path, batches: Sequence[Batch], cache_path: Path | None, wait: float
    ) -> list[UpdateReport]:
        """add_batches in the worker; its errors come back as raised there. A worker that died is replaced (its
        group fails with WriteFailed; the index is untouched: its edit never committed)."""
        try:
            return self._pool.submit(_apply, index, list(batches), cache_path, wait).result()
        except BrokenProcessPool as exc:
            self._pool.shutdown(wait=False)
            self._pool = self._new_pool()
            raise WriteFailed(f"the write process stopped ({exc}); nothing was written, retry") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
