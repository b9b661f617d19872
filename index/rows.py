"""Per-row facts a reader keeps in memory (a row is a vector: FAISS row == passages.row): article, day,
place in the article, source and whether the row is still stored."""

from __future__ import annotations

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
        if facts and not 0 <= facts[0][0] <= facts[-1][0] < ntotal:
            raise IndexCorrupt(f"{where}: store rows run past the {ntotal} vectors; {REBUILD}")
        row_ids, article_ids, dates, sources, places = zip(*facts, strict=True) if facts else ((), (), (), (), ())
        rows = np.array(row_ids, dtype=np.int64)
        article_of = [""] * ntotal
        for r, a in zip(row_ids, article_ids, strict=True):
            article_of[r] = a
        days = np.full(ntotal, NO_DAY, dtype=np.int32)
        days[rows] = np.array([day_number(d) for d in dates], dtype=np.int32)
        n = np.zeros(ntotal, dtype=np.int32)
        n[rows] = np.array(places, dtype=np.int32)
        codes: dict[str, int] = {}
        names: list[str] = []
        source_of = np.full(ntotal, -1, dtype=np.int32)
        source_of[rows] = np.array([_code(s or "", codes, names) for s in sources], np.int32)
        live = None
        if len(facts) < ntotal:
            live = np.zeros(ntotal, dtype=bool)
            live[rows] = True
        return cls(article_of, days, n, source_of, codes, names, live, len(facts), dict(Counter(article_ids)))


def _code(source: str, codes: dict[str, int], names: list[str]) -> int:
    """The code of a source (case-folded), given a new one (and its spelling in `names`) the first time it is seen."""
    key = source.casefold()
    if key not in codes:
        codes[key] = len(names)
        names.append(source)
    return codes[key]
