"""Matched articles as CSV or JSONL lines, one chunk at a time (the coverage export streams them)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Literal

from index.passages import StoredPassage

Format = Literal["csv", "jsonl"]
COLUMNS = ("id", "date", "source", "title", "url", "score")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
ROWS_PER_CHUNK = 500  # rows joined into one piece of the stream


def _row(passage: StoredPassage, score: float) -> tuple[str, str, str, str, str, float]:
    p = passage
    return (p.article_id, p.date or "", p.source or "", p.title, p.url or "", round(score, 6))


def lines(matches: Iterable[tuple[StoredPassage, float]], form: Format) -> Iterator[str]:
    """The header (CSV) then one line per match, `ROWS_PER_CHUNK` lines per yielded string."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if form == "csv":
        writer.writerow(COLUMNS)
    for n, (passage, score) in enumerate(matches, start=1):
        row = _row(passage, score)
        if form == "csv":
            writer.writerow(row)
        else:
            buffer.write(json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False) + "\n")
        if n % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
