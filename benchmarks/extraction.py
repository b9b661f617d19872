"""Article body extraction from saved news pages: precision, recall, F1, pages/s, titles and dates per extractor.

    nice python benchmarks/extraction.py [--data ../shared/data/html-news] [--out results.json]

Scores every extractor that is installed on the html-news pages (real pages with a hand-made article body) with
the article-extraction-benchmark's rule: the true body and the extracted text are cut into word 4-shingles
(`\\w+` tokens, case kept); per page, true/false positives and negatives come from the shingle multisets and are
normalised by their sum; precision and recall are averaged over pages; F1 comes from the averaged P and R.
Pages/s is CPU time in this process (one core). "dated" counts pages that declare a publication date in their
markup (meta tags, JSON-LD, <time>), "date" the pages an extractor dated, and "= URL date" how many of the pages
with a date in their URL got that date (a check where there is no ground truth for dates). `dateline` is what
`index.html.page_fields` makes of a page, the extractor the build uses.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.html import decode_html, page_fields

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "html-news"
TOKEN = re.compile(r"\w+")
# Markup that declares a publication date: what a page "declares" for the date count.
DECLARED_DATE = re.compile(
    r"datePublished|article:published_time|<time[^>]+datetime=|name=[\"'](?:pubdate|publishdate|date|dc\.date"
    r"|sailthru\.date|parsely-pub-date)[\"']",
    re.IGNORECASE,
)

# A date in the URL (/2019/11/18/, /2019-11-18-, /20191118/): a check on the dates found, where there is one.
URL_DATE = re.compile(r"/(20\d\d)[/-]?(0[1-9]|1[0-2])[/-]?([0-2]\d|3[01])[/-]")
Extracted = tuple[str, str | None, str | None]  # body, title, date


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def page_score(true: str, pred: str) -> tuple[float, float, float]:
    """(tp, fp, fn) of one page's shingle multisets, normalised to sum to 1 (so long pages weigh no more)."""
    t, p = shingles(true), shingles(pred)
    tp = sum((t & p).values())
    fp, fn = sum((p - t).values()), sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision_recall_f1(scores: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    def ratio(tp: float, other: float, fp: float, fn: float) -> float:
        if fp == fn == 0:
            return 1.0
        return 0.0 if tp == other == 0 else tp / (tp + other)

    precisions = [ratio(tp, fp, fp, fn) for tp, fp, fn in scores if tp + fp > 0]
    recalls = [ratio(tp, fn, fp, fn) for tp, fp, fn in scores if tp + fn > 0]
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def extractors() -> dict[str, Callable[[bytes, str], Extracted]]:
    """Every extractor that imports here, by name; each takes the page's bytes and URL."""
    found: dict[str, Callable[[bytes, str], Extracted]] = {}

    def dateline(data: bytes, url: str) -> Extracted:
        fields = page_fields(data, url)
        return fields["text"] or "", fields["title"] or None, fields["date"]

    found["dateline"] = dateline
    try:
        import trafilatura

        def trafilatura_with(**options: Any) -> Callable[[bytes, str], Extracted]:
            def run(data: bytes, url: str) -> Extracted:
                doc: Any = trafilatura.bare_extraction(
                    data, url=url, with_metadata=True, include_comments=False, **options
                )
                return (doc.text or "", doc.title, doc.date) if doc else ("", None, None)

            return run

        found["trafilatura"] = trafilatura_with()
        found["trafilatura precision"] = trafilatura_with(favor_precision=True)
        found["trafilatura recall"] = trafilatura_with(favor_recall=True)
        found["trafilatura fast"] = trafilatura_with(fast=True)
        found["trafilatura fast precision"] = trafilatura_with(fast=True, favor_precision=True)
    except ImportError:
        pass
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        def resiliparse(data: bytes, url: str) -> Extracted:
            tree = HTMLTree.parse(decode_html(data))
            text = extract_plain_text(tree, main_content=True, links=False, alt_texts=False, list_bullets=False)
            return text, tree.title or None, None

        def dump(data: bytes, url: str) -> Extracted:  # the baseline: every text node of the page
            tree = HTMLTree.parse(decode_html(data))
            return extract_plain_text(tree, main_content=False), tree.title or None, None

        found["resiliparse"] = resiliparse
        found["html-to-text dump"] = dump
    except ImportError:
        pass
    found.update(_lxml_extractors())
    return found


def _lxml_extractors() -> dict[str, Callable[[bytes, str], Extracted]]:
    found: dict[str, Callable[[bytes, str], Extracted]] = {}
    try:
        import lxml.html
        from readability import Document

        def readability(data: bytes, url: str) -> Extracted:
            doc = Document(decode_html(data), url=url)
            return lxml.html.fromstring(doc.summary()).text_content(), doc.short_title() or None, None

        found["readability-lxml"] = readability
    except ImportError:
        pass
    try:
        import justext

        stop = justext.get_stoplist("English")

        def jt(data: bytes, url: str) -> Extracted:
            paragraphs = justext.justext(decode_html(data), stop)
            return "\n".join(p.text for p in paragraphs if not p.is_boilerplate), None, None

        found["justext"] = jt
    except ImportError:
        pass
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "nltk is not installed": only its NLP extras need it
            from newspaper import Article as NewsArticle

        def newspaper4k(data: bytes, url: str) -> Extracted:
            page = NewsArticle(url, fetch_images=False)
            page.download(input_html=decode_html(data))
            try:
                page.parse()
            except ImportError:  # a language whose tokenizer needs nltk (newspaper4k[nlp]): counted as a miss
                return "", None, None
            date = page.publish_date.date().isoformat() if page.publish_date else None
            return page.text, page.title or None, date

        found["newspaper4k"] = newspaper4k
    except ImportError:
        pass
    return found


def score(
    name: str, extract: Callable[[bytes, str], Extracted], pages: dict[str, bytes], truth: dict[str, Any]
) -> dict[str, Any]:
    """One extractor's row: P, R, F1 by the benchmark's rule, pages/s of CPU time, pages with a title and a date."""
    scores, titles, dates, found = [], 0, 0, {}
    start = time.process_time()
    for key, page in pages.items():
        text, title, found[key] = extract(page, truth[key]["url"])
        scores.append(page_score(truth[key]["articleBody"], text))
        titles += bool(title and title.strip())
        dates += bool(found[key])
    seconds = time.process_time() - start
    in_url = {key: m for key in pages if (m := URL_DATE.search(truth[key]["url"]))}
    agree = sum(str(found[key])[:10] == f"{m[1]}-{m[2]}-{m[3]}" for key, m in in_url.items())
    precision, recall, f1 = precision_recall_f1(scores)
    return {
        "extractor": name,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "pages_per_s": len(pages) / seconds if seconds else float("inf"),
        "titles": titles,
        "dates": dates,
        "url_dates_agreeing": agree,
        "url_dates": len(in_url),
    }


def read_pages(data: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The pages (bytes as served) and the ground truth, by key."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    return {key: gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes()) for key in sorted(truth)}, truth


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--only", nargs="*", default=None, help="extractor names to run (default: all installed)")
    p.add_argument("--out", type=Path, default=None, help="write the table as JSON here")
    args = p.parse_args(argv)
    if not (args.data / "ground-truth.json").exists():
        print(f"error: no html-news data at {args.data} (give --data)", file=sys.stderr)
        return 2
    pages, truth = read_pages(args.data)
    dated = sum(bool(DECLARED_DATE.search(decode_html(page))) for page in pages.values())
    rows = [
        score(name, extract, pages, truth)
        for name, extract in extractors().items()
        if not args.only or name in args.only
    ]
    print(f"{len(pages)} pages, {dated} declare a publication date in their markup")
    print(f"{'extractor':<28} {'P':>6} {'R':>6} {'F1':>6} {'pages/s':>8} {'title':>6} {'date':>5} {'= URL date':>10}")
    for row in rows:
        print(
            f"{row['extractor']:<28} {row['precision']:6.3f} {row['recall']:6.3f} {row['f1']:6.3f} "
            f"{row['pages_per_s']:8.1f} {row['titles']:6d} {row['dates']:5d} "
            f"{row['url_dates_agreeing']:>6d}/{row['url_dates']}"
        )
    if args.out:
        args.out.write_text(json.dumps({"pages": len(pages), "dated": dated, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
