"""Readers for saved web pages (.html, .htm) and web crawls (.warc, .warc.gz); each page becomes an article by
`index.html`. The only module that imports warcio.

A WARC's records are located by their byte offset in the file (where `path:line` names a line elsewhere).
Records that hold no page by design (requests, revisits, metadata, non-HTML or non-200 responses) are passed
over from their headers alone, without reading the payload, and counted by why (`Problem.expected`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Any

from index.articles import HTML_SUFFIXES, MAX_RECORD_CHARS, Problem, Record, article_from_fields
from index.html import page_fields

# Fewer words than this after boilerplate removal is a page with no article: a section front, a 404 page, a
# paywall stub. The shortest real article body in the html-news benchmark has 18 words.
MIN_WORDS = 15
GZIP_MAGIC = b"\x1f\x8b\x08"  # a gzip member's first bytes (deflate)
SCAN_BYTES = 1 << 20  # read this much at a time when looking for the next record after a bad stretch
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


def page_records(
    data: bytes, path: str, line: int, url: str | None = None, charset: str | None = None, default_id: str = ""
) -> list[Record]:
    """One page's article (after any warnings), or a Problem saying why the page holds none."""
    head = data[:1024]
    if not data.strip():
        return [Problem(path, line, "empty page")]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [Problem(path, line, "not HTML (binary content)")]
    try:
        fields = page_fields(data, url, charset)
    except Exception as exc:  # the extractors' parsers on pages nobody tested: one page lost, never the archive
        return [Problem(path, line, f"page could not be parsed ({type(exc).__name__}: {exc})")]
    words = len(fields["text"].split())
    if words < MIN_WORDS:
        found = f"{words} words after boilerplate removal" if words else "only boilerplate"
        return [Problem(path, line, f"no article text ({found}: a section front, an error page or a paywall?)")]
    fields["id"] = fields["id"] or default_id or None
    fields["url"] = fields["url"] or url or path
    warning = fields.pop("warning")
    records = article_from_fields(fields, path, line)
    return [Problem(path, line, warning, skipped=False), *records] if warning else records


def read_html(stream: IO[bytes], name: str, path: Path, root: Path | None) -> Iterator[Record]:
    """A saved page: its canonical URL names it; without one the file does (id from its path, as for text)."""
    stem = path.name
    for suffix in (".gz", ".xz", *HTML_SUFFIXES):
        stem = stem.removesuffix(suffix)
    default_id = stem if root is None else str(path.relative_to(root).with_name(stem)).replace("\\", "/")
    data = stream.read(MAX_RECORD_CHARS + 1)
    if len(data) > MAX_RECORD_CHARS:
        yield Problem(name, 1, f"page larger than {MAX_RECORD_CHARS:,} bytes; not read")
        return
    yield from page_records(data, name, 1, None, None, default_id)


def read_warc(stream: IO[bytes], name: str) -> Iterator[Record]:
    """Every HTML response of a WARC (plain or gzip per record). Where the file is cut or corrupt, the place is
    reported (its byte offset) and reading goes on at the next record start after it, if there is one."""
    # Where a record can start: a gzip member (each record is one), or a WARC header line in a plain file.
    start_mark = GZIP_MAGIC if stream.read(2) == GZIP_MAGIC[:2] else b"\nWARC/1."
    start: int | None = 0
    report = True  # one problem per bad stretch: candidates after it that fail before a record are not reported
    while start is not None:
        stream.seek(start)
        bad = yield from _records_from(stream, name, report)
        if bad is None:
            return
        report, start = False, _next_start(stream, bad + 1, start_mark)


def _records_from(stream: IO[bytes], name: str, report: bool) -> Generator[Record, None, int | None]:
    """Read records from the stream's position to the end; on a bad one, report it (if `report` or a record was
    read before it) and return its offset; None when the file ended cleanly."""
    from warcio.archiveiterator import ArchiveIterator

    records = ArchiveIterator(stream, check_digests=False)
    iterator, read_any = iter(records), False
    while True:
        try:
            record = next(iterator, None)
            if record is None:
                break
            offset = records.offset  # where this record starts (get_record_offset would read it to the end)
            payload = _payload(record, name, offset)
        except Exception as exc:  # warcio fails on junk in many ways (even AttributeError); each is a bad stretch
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if report or read_any:
                yield Problem(name, records.offset, f"WARC file is truncated or corrupt here ({reason})")
            return records.offset
        read_any = True
        if isinstance(payload, Problem):
            yield payload
        else:
            yield from page_records(payload[0], name, offset, payload[1], payload[2])
    # warcio ends quietly at a member cut inside its headers: bytes left over mean the file was cut.
    end = stream.seek(0, io.SEEK_END)
    if records.offset >= end:
        return None
    if report or read_any:
        left = end - records.offset
        yield Problem(name, records.offset, f"WARC file is truncated or corrupt here ({left:,} bytes not read)")
    return records.offset


def _next_start(stream: IO[bytes], after: int, mark: bytes) -> int | None:
    """The offset of the first `mark` at or after `after` (where a record may start again), or None."""
    stream.seek(after)
    carry = b""
    pos = after
    while chunk := stream.read(SCAN_BYTES):
        found = (carry + chunk).find(mark)
        if found >= 0:
            start = pos - len(carry) + found
            return start + 1 if mark.startswith(b"\n") else start
        carry = chunk[-(len(mark) - 1) :]
        pos += len(chunk)
    return None


def _payload(record: Any, name: str, offset: int) -> Problem | tuple[bytes, str | None, str | None]:
    """A response's page, its URL and its HTTP charset; or why the record holds none (read from headers first)."""
    why = passed_over(record)
    if why:
        return Problem(name, offset, why, expected=True)
    if record.length > MAX_RECORD_CHARS:
        return Problem(name, offset, f"page larger than {MAX_RECORD_CHARS:,} bytes; not read")
    content_type = record.http_headers.get_header("Content-Type") or ""
    charset = _CHARSET.search(content_type)
    data = record.content_stream().read()
    if record.raw_stream.limit > 0:  # the record says it is longer than what the file holds
        return Problem(name, offset, "WARC file is truncated or corrupt here (a record cut short); not indexed")
    return data, record.rec_headers.get_header("WARC-Target-URI"), charset[1] if charset else None


def passed_over(record: Any) -> str:
    """Why a WARC record holds no page to index, from its headers alone ("" when it does)."""
    if record.rec_type != "response":
        return f"WARC {record.rec_type} record"
    if record.http_headers is None:
        return "WARC response without HTTP headers"
    status = record.http_headers.get_statuscode()
    if status != "200":
        return f"HTTP status not 200 ({status})"
    content_type = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
    if "html" not in content_type:
        return f"not HTML ({content_type or 'no content type'})"
    return ""
