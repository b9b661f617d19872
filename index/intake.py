"""Intake, written once: records in, accepted articles out; duplicate ids dropped and every problem kept.

Used by the local build, the Ray build's driver, add (CLI) and POST /articles, so each counts `read`, words its
problems ("path:line: skipped: reason") and keeps the first article of an id in the same way.
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from index.articles import Article, Problem, Record, article_from_fields

SHOW_PROBLEMS = 50  # problems printed one per line; the rest are counted by reason in the summary
KEEP_FIRST = ": the first was kept"  # what a duplicate-id problem says happened, when reading goes on


class Tally(Protocol):
    """What intake counts into: a BuildReport, an UpdateReport or an IntakeReport."""

    read: int
    problems: list[Problem]


@dataclass
class IntakeReport:
    read: int = 0
    problems: list[Problem] = field(default_factory=list)


def records_from_fields(items: Iterable[dict[str, Any]], path: str = "request") -> Iterator[Record]:
    """The records of a batch of field dicts (a request body), each located as `path`:its index in the batch."""
    for i, fields in enumerate(items):
        yield from article_from_fields(fields, path, i)


def problem_at(article: Article, reason: str) -> Problem:
    """A problem (the article skipped) located where `article` was read: its "path:line"."""
    path, _, line = article.where.rpartition(":")
    return Problem(path, int(line or 0), reason)


def bad_input(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that are bad input (what --strict refuses): not the records left out by design."""
    return [p for p in problems if not p.expected]


def skip_reasons(problems: Iterable[Problem]) -> list[tuple[str, int]]:
    """Skipped records counted by the kind of reason (the text before any detail), most frequent first."""
    kinds = collections.Counter(p.reason.split(" (")[0].split(":")[0] for p in problems if p.skipped)
    return kinds.most_common()


def show_problems(write: Callable[[str], None] | None = None) -> Callable[[Problem], None]:
    """A callback that writes (to stderr by default) the first SHOW_PROBLEMS problems one per line, then says the
    rest are counted."""
    write = write or (lambda line: print(line, file=sys.stderr))
    shown = 0

    def show(problem: Problem) -> None:
        nonlocal shown
        shown += 1
        if shown <= SHOW_PROBLEMS:
            write(str(problem))
        elif shown == SHOW_PROBLEMS + 1:
            write("... more problems are counted in the summary")

    return show


class Intake:
    """Counts records into `tally`, keeps the first article of each id, and records every problem (also passing
    each to `show`). A duplicate id's problem ends with `duplicate` (KEEP_FIRST, or why nothing was kept)."""

    def __init__(
        self,
        tally: Tally | None = None,
        show: Callable[[Problem], None] | None = None,
        duplicate: str = KEEP_FIRST,
    ) -> None:
        self.tally: Tally = tally if tally is not None else IntakeReport()
        self.show, self.duplicate = show, duplicate
        self.seen: set[str] = set()

    @property
    def problems(self) -> list[Problem]:
        return self.tally.problems

    def take(self, record: Record) -> Article | None:
        """The article to go on with, or None when `record` is a problem or repeats an id already taken."""
        if isinstance(record, Problem):
            self.tally.read += record.lost
            self.report(record)
            return None
        self.tally.read += 1
        if record.article_id in self.seen:
            self.report(problem_at(record, f"duplicate article id {record.article_id!r}{self.duplicate}"))
            return None
        self.seen.add(record.article_id)
        return record

    def accept(self, records: Iterable[Record]) -> Iterator[Article]:
        """The articles of `records` that `take` keeps, in order."""
        for record in records:
            article = self.take(record)
            if article is not None:
                yield article

    def no_text(self, article: Article) -> None:
        """Report an article that split into no passages."""
        self.report(problem_at(article, f"article {article.article_id!r} has no text"))

    def report(self, problem: Problem) -> None:
        self.tally.problems.append(problem)
        if self.show is not None and not problem.expected:
            self.show(problem)
