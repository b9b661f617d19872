"""Group commit of the API's writes: those that arrive while one is applied queue up and go in the next together.

Each write enqueues its item with a Future and takes the write lock. The holder (the leader) applies every
queued item, in arrival order, as one group (one edit, one commit, one reload: `apply`), and answers each item's
Future with its own result; a writer whose item a leader already applied finds its Future done and returns at
once. So a write waits for at most the write in progress and its own group, however many arrive, and the index
makes one generation per group, not per request. A group takes items up to `max_size` (articles and deletes;
always at least one item), so one write stays bounded. A group that fails fails every item in it with the same
error (the index is untouched: a group is one atomic commit); the items queued behind it go on in the next.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from index.errors import IndexBusy

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Queued(Generic[Item, Result]):
    item: Item
    size: int
    future: Future[Result] = field(default_factory=Future)


class GroupCommitter(Generic[Item, Result]):
    """Applies submitted items in groups through `apply` (items in, one result per item out, in order)."""

    def __init__(self, apply: Callable[[list[Item]], list[Result]], max_size: int) -> None:
        self._apply = apply
        self.max_size = max_size
        self._lock = threading.Lock()  # held by the leader while it applies groups
        self._queue: deque[_Queued[Item, Result]] = deque()
        self._queue_lock = threading.Lock()  # guards _queue
        self.groups = 0  # groups applied (each one generation when it changed anything)

    @property
    def queued(self) -> int:
        """Items waiting for a group (not those being applied now)."""
        with self._queue_lock:
            return len(self._queue)

    def submit(self, item: Item, size: int, wait: float) -> Result:
        """Apply `item` (with the others queued by then) and return its result, or raise its group's error.
        IndexBusy when no group could take it within `wait` seconds (it is then dropped, never applied)."""
        queued: _Queued[Item, Result] = _Queued(item, max(1, size))
        with self._queue_lock:
            self._queue.append(queued)
        if not self._lock.acquire(timeout=wait):
            with self._queue_lock:
                if queued in self._queue:
                    self._queue.remove(queued)
                    raise IndexBusy("other writes are in progress; retry shortly")
            return queued.future.result()  # a leader is applying it now: its answer comes
        try:
            while not queued.future.done():
                self._run(self._take())
        finally:
            self._lock.release()
        return queued.future.result()

    def _take(self) -> list[_Queued[Item, Result]]:
        """The next group: queued items in order while their sizes fit in max_size (the first always)."""
        with self._queue_lock:
            group = [self._queue.popleft()]
            total = group[0].size
            while self._queue and total + self._queue[0].size <= self.max_size:
                total += self._queue[0].size
                group.append(self._queue.popleft())
        return group

    def _run(self, group: list[_Queued[Item, Result]]) -> None:
        self.groups += 1
        try:
            results = self._apply([q.item for q in group])
        except BaseException as exc:  # every writer in the group gets the error; the leader goes on if it is not in it
            for q in group:
                q.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for q, result in zip(group, results, strict=True):
            q.future.set_result(result)
