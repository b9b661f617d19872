"""Per-row facts a reader keeps in memory (a row is a vector: FAISS row == passages.row): article, day,
place in the article, source and whether the row is still stored."""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter
from dataclasses import dataclass

import numpy as np

from index.errors import IndexCorrupt
from index.generations import REBUILD
from index.segments import Segments

EPOCH = datetime.date(1970, 1, 1)
NO_DAY = np.iinfo(np.int32).min


def day_number(iso: str | None) -> int:
    """An ISO date (or datetime) -> days since 1970-01-01; NO_DAY when absent or unreadable."""
    if not iso:
        return int(NO_DAY)
    try:
        return (datetime.date.fromisoformat(iso[:10]) - EPOCH).days
    except ValueError:
        return int(NO_DAY)


@dataclass(frozen=True, slots=True)
class RowTable:
    """One entry per vector, deleted rows included (a deleted row: no article, NO_DAY, source -1, not live)."""

    article_of: list[str]  # the row's article_id, for grouping candidates ("" where deleted)
    days: np.ndarray  # int32 days since 1970-01-01 of the row's article (NO_DAY where undated), filters and recency
    n: np.ndarray  # int32 place of the passage in its article (0 = the lede), to choose the passage a hit shows
    sources: np.ndarray  # int32 code of the article's case-folded source, for source filters
    source_codes: dict[str, int]  # case-folded source -> its code
    source_names: list[str]  # code -> the source as first spelled ("" for articles without one), for counting
    live: np.ndarray | None  # bool: still stored; None when no row was deleted (no mask to apply)
    stored: int  # rows in the store
    passages_in: dict[str, int]  # article_id -> its passages in the store (the focus prior's denominator)

    @classmethod
    def load(cls, store: Segments, ntotal: int, where: object = "the index") -> RowTable:
        """The table of a store whose vector index holds `ntotal` rows; IndexCorrupt if a row runs past them."""
        facts = store.row_facts()
        _check_rows(facts, 0, ntotal, where)
        article_of, days, n, sources, codes, names = _columns(facts, 0, ntotal, {}, [])
        live = None
        if len(facts) < ntotal:
            live = np.zeros(ntotal, dtype=bool)
            live[[f[0] for f in facts]] = True
        passages_in = dict(Counter(f[1] for f in facts))
        return cls(article_of, days, n, sources, codes, names, live, len(facts), passages_in)

    def extended(self, store: Segments, ntotal: int, stored: int, where: object = "the index") -> RowTable:
        """The table of a generation edited from this one (an add or a delete: rows keep their numbers, some
        deleted, new ones from this table's end on), holding `ntotal` rows of which `stored` are in `store`.
        Reads only the new rows, and the stored old ones only when some were deleted; this table is unchanged."""
        old = len(self.days)
        facts = store.row_facts(old)
        _check_rows(facts, old, ntotal, where)
        article_of, days, n, sources, codes, names = _columns(
            facts, old, ntotal, dict(self.source_codes), list(self.source_names)
        )
        table = RowTable(
            self.article_of + article_of,
            np.concatenate([self.days, days]),
            np.concatenate([self.n, n]),
            np.concatenate([self.sources, sources]),
            codes,
            names,
            None,
            stored,
            dict(Counter(f[1] for f in facts) + Counter(self.passages_in)),
        )
        live = np.zeros(ntotal, dtype=bool)
        live[:old] = True if self.live is None else self.live
        live[[f[0] for f in facts]] = True
        gone = self.stored - (stored - len(facts))  # old rows the edit deleted: their rows are read only then
        if gone:
            still = np.zeros(old, dtype=bool)
            still[store.rows_below(old)] = True
            dead = np.flatnonzero(live[:old] & ~still)
            if len(dead) != gone:
                raise IndexCorrupt(f"{where}: {len(dead)} rows deleted, the counts say {gone}; {REBUILD}")
            table._forget(dead)
            live[dead] = False
        return dataclasses.replace(table, live=None if stored == ntotal else live)

    def _forget(self, rows: np.ndarray) -> None:
        """Mark `rows` deleted in this (new, not yet shared) table."""
        for r in rows.tolist():
            article = self.article_of[r]
            self.passages_in[article] -= 1
            if not self.passages_in[article]:
                del self.passages_in[article]
            self.article_of[r] = ""
        self.days[rows], self.n[rows], self.sources[rows] = NO_DAY, 0, -1


Facts = list[tuple[int, str, str | None, str | None, int]]


def _check_rows(facts: Facts, first: int, ntotal: int, where: object) -> None:
    if facts and not first <= facts[0][0] <= facts[-1][0] < ntotal:
        raise IndexCorrupt(f"{where}: store rows run past the {ntotal} vectors; {REBUILD}")


def _columns(
    facts: Facts, first: int, ntotal: int, codes: dict[str, int], names: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, dict[str, int], list[str]]:
    """The per-row columns of rows first..ntotal-1 from their facts (rows without facts: deleted), and the source
    codes extended by the sources seen first here."""
    size = ntotal - first
    row_ids, article_ids, dates, sources, places = zip(*facts, strict=True) if facts else ((), (), (), (), ())
    rows = np.array(row_ids, dtype=np.int64) - first
    article_of = [""] * size
    for r, a in zip(rows.tolist(), article_ids, strict=True):
        article_of[r] = a
    days = np.full(size, NO_DAY, dtype=np.int32)
    days[rows] = np.array([day_number(d) for d in dates], dtype=np.int32)
    n = np.zeros(size, dtype=np.int32)
    n[rows] = np.array(places, dtype=np.int32)
    source_of = np.full(size, -1, dtype=np.int32)
    source_of[rows] = np.array([_code(s or "", codes, names) for s in sources], np.int32)
    return article_of, days, n, source_of, codes, names


def _code(source: str, codes: dict[str, int], names: list[str]) -> int:
    """The code of a source (case-folded), given a new one (and its spelling in `names`) the first time it is seen."""
    key = source.casefold()
    if key not in codes:
        codes[key] = len(names)
        names.append(source)
    return codes[key]
