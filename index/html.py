"""A saved web page -> an article's fields: the body without boilerplate, title, date, source and URL.

The only module that imports the extractors (trafilatura, and htmldate through it); chosen by
`benchmarks/extraction.py` on real news pages (docs/formats.md has the numbers).
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from index.articles import derived_id, normalise_date, source_from_url

# A charset declared in the page itself: <meta charset="..."> or <meta http-equiv content="...; charset=...">.
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([a-zA-Z0-9._:-]+)", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
SNIFF_BYTES = 4096  # a meta charset must sit in the first bytes of the page (HTML says 1024; pages are sloppy)


def _codec(name: str | None) -> str | None:
    """Python's codec for a charset label, or None for a label it does not know."""
    if not name:
        return None
    label = name.strip().lower().decode() if isinstance(name, bytes) else name.strip().lower()
    if label in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"):
        label = "cp1252"  # what browsers do with these labels (WHATWG Encoding)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_html(data: bytes, charset: str | None = None) -> str:
    """The page as text (see `decode_page`)."""
    return decode_page(data, charset)[0]


def decode_page(data: bytes, charset: str | None = None) -> tuple[str, str | None]:
    """The page as text, and a warning when its declared charset was wrong. The encoding as served: a BOM, else
    the HTTP `charset`, else a meta charset, else UTF-8, else windows-1252. Bytes that are valid UTF-8 with
    non-ASCII characters are read as UTF-8 whatever was declared (a page saved as UTF-8 with its old legacy
    declaration is the common case; legacy text is almost never valid UTF-8 by chance). Bytes the encoding cannot
    read become U+FFFD: a wrong charset costs characters, not the page."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(name, errors="replace"), None
    meta = _META_CHARSET.search(data[:SNIFF_BYTES])
    label = charset or (meta[1].decode("ascii", "replace") if meta else None)
    codec = _codec(label)
    try:
        text = data.decode("utf-8")
        if label and codec is None:
            return text, f"unknown charset {label!r}; read as UTF-8"
        if codec in (None, "utf-8") or text.isascii():
            return text, None
        return text, f"declared charset {label!r} but the page is UTF-8; read as UTF-8"
    except UnicodeDecodeError:
        pass
    if codec is None or codec == "utf-8":
        said = f"declared charset {label!r} but the page is not" if label else "no charset declared and not UTF-8"
        return data.decode("cp1252", errors="replace"), f"{said}; read as windows-1252"
    text = data.decode(codec, errors="replace")
    bad = text.count("\ufffd")
    return text, f"{bad} bytes unreadable in the declared charset {label!r}" if bad else None


def page_fields(data: bytes, url: str | None = None, charset: str | None = None) -> dict[str, Any]:
    """The fields of the article in one page (`text` empty when the page holds none). `url` is where it was fetched
    from (WARC target URI, or None); the page's canonical URL wins over it."""
    import trafilatura

    html, warning = decode_page(data, charset)
    doc: Any = trafilatura.bare_extraction(  # a Document (a dict only with as_dict=True)
        html, url=url, with_metadata=True, include_comments=False, favor_precision=True
    )
    if doc is None:
        return {"id": None, "title": "", "text": "", "date": None, "source": None, "url": url, "warning": warning}
    page_url = doc.url if doc.url and doc.url.startswith(("http://", "https://")) else url
    try:
        date = normalise_date(doc.date)
    except ValueError:
        date = None
    title, text = (doc.title or "").strip(), (doc.text or "").strip()
    first, _, rest = text.partition("\n")
    if title and first.strip() == title:
        text = rest.strip()  # the headline is the title, embedded with every passage already
    return {
        "id": derived_id(page_url) if page_url else None,
        "title": title,
        "text": text,
        "date": date,
        "source": (doc.sitename or "").strip() or source_from_url(page_url),
        "url": page_url,
        "warning": warning,  # about the charset: the page is indexed, the user told
    }
