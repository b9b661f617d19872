"""Test helpers for web archives: made-up news pages, the html-news pages, and WARC files written with warcio."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.fakes import SHARED_DATA, made_up_text, need_shared_data

HTML_NEWS = SHARED_DATA / "html-news"


def news_page(
    seed: int, *, canonical: str | None = None, date: str | None = "2024-03-05", charset: str = "utf-8"
) -> str:
    """A page as a CMS serves it: menus, an article with a title and a date, related links and a footer."""
    head = [f'<meta charset="{charset}">', f"<title>Story {seed} | The Daily Example</title>"]
    head.append(f'<meta property="og:title" content="Story {seed} made up for a test">')
    head.append('<meta property="og:site_name" content="The Daily Example">')
    if date:
        head.append(f'<meta property="article:published_time" content="{date}T08:00:00Z">')
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    paragraphs = "".join(f"<p>{p}</p>" for p in made_up_text(seed).split("\n\n"))
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(12))
    related = "".join(f'<li><a href="/story/{i}">Another story number {i}</a></li>' for i in range(8))
    return (
        f"<!DOCTYPE html><html><head>{''.join(head)}</head><body><header><nav><ul>{nav}</ul></nav></header>"
        f"<main><article><h1>Story {seed} made up for a test</h1>{paragraphs}</article>"
        f'<aside><h2>Related</h2><ul class="related">{related}</ul></aside></main>'
        "<footer><p>Copyright The Daily Example. All rights reserved.</p></footer></body></html>"
    )


ERROR_PAGE = (
    "<html><head><title>Page not found</title></head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
    "<h1>404</h1><p>Sorry, this page does not exist.</p></body></html>"
)


def html_news_pages(n: int | None = None) -> list[tuple[str, str, bytes]]:
    """(key, url, page bytes as served) of the html-news benchmark pages; skips the test when they are absent."""
    need_shared_data(HTML_NEWS / "ground-truth.json")
    truth = json.loads((HTML_NEWS / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)[:n]
    return [(k, truth[k]["url"], gzip.decompress((HTML_NEWS / "html" / f"{k}.html.gz").read_bytes())) for k in keys]


@dataclass(frozen=True)
class Fetch:
    """One crawled URL, written as the records a crawler writes for it."""

    url: str
    body: bytes
    status: str = "200 OK"
    content_type: str = "text/html; charset=utf-8"
    revisit: bool = False  # a revisit record (the payload unchanged since an earlier fetch) instead of a response


def write_warc(path: Path, fetches: Sequence[Fetch], *, gzipped: bool = True, metadata: bool = True) -> Path:
    """A WARC as crawlers write it: warcinfo, then per fetch a request, a response (or revisit) and metadata."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=gzipped)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "dateline tests"}))
        for fetch in fetches:
            request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True)
            writer.write_record(writer.create_warc_record(fetch.url, "request", http_headers=request))
            headers = StatusAndHeaders(fetch.status, [("Content-Type", fetch.content_type)], protocol="HTTP/1.1")
            if fetch.revisit:
                record = writer.create_revisit_record(
                    fetch.url, "sha1:AAAA", fetch.url, "2024-01-01T00:00:00Z", http_headers=headers
                )
            else:
                record = writer.create_warc_record(
                    fetch.url, "response", payload=io.BytesIO(fetch.body), http_headers=headers
                )
            writer.write_record(record)
            if metadata:
                fields = io.BytesIO(b"fetchTimeMs: 120\r\n")
                writer.write_record(
                    writer.create_warc_record(
                        fetch.url, "metadata", payload=fields, warc_content_type="application/warc-fields"
                    )
                )
    return path
