"""Saved web pages and WARC crawls: pages become articles (body, title, date, source, url, id from the URL);
records that hold no page are passed over from their headers; bad input is reported where it is."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from index import cli as index_cli
from index import web
from index.articles import Article, Problem, read_articles, read_file
from index.html import decode_page, page_fields
from index.intake import Intake, IntakeReport, bad_input
from tests.fakes import OpenReader, run_cli
from tests.webpages import ERROR_PAGE, Fetch, html_news_pages, news_page, write_warc

URL = "https://news.example.org/2024/03/05/story-{}.html"


def split_records(records: list[Article | Problem]) -> tuple[list[Article], list[Problem]]:
    return [r for r in records if isinstance(r, Article)], [r for r in records if isinstance(r, Problem)]


def crawl(tmp_path: Path, n: int = 3, **kwargs: bool) -> Path:
    """A WARC of `n` article pages, with a 404, an image, a redirect and a revisit among them."""
    fetches = [Fetch(URL.format(i), news_page(i).encode()) for i in range(n)]
    fetches += [
        Fetch("https://news.example.org/missing", ERROR_PAGE.encode(), status="404 Not Found"),
        Fetch("https://news.example.org/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), content_type="image/png"),
        Fetch("https://news.example.org/old", b"", status="301 Moved Permanently"),
        Fetch(URL.format(0), b"", revisit=True),
    ]
    return write_warc(tmp_path / "crawl.warc.gz", fetches, **kwargs)


def test_a_saved_page_becomes_its_article_without_the_menus_and_related_links(tmp_path: Path) -> None:
    path = tmp_path / "story.html"
    path.write_text(news_page(1, canonical=URL.format(1)), encoding="utf-8")
    [article] = split_records(list(read_articles([path])))[0]
    assert article.title == "Story 1 made up for a test"
    assert article.date == "2024-03-05"
    assert article.source == "The Daily Example"
    assert article.url == URL.format(1)
    assert "Section 3" not in article.text and "Another story number" not in article.text
    assert "All rights reserved" not in article.text
    assert article.text.split()[:5] == news_page(1).split("<p>")[1].split()[:5]


def test_the_id_comes_from_the_url_so_a_recrawl_updates_the_article(tmp_path: Path) -> None:
    first = page_fields(news_page(1).encode(), URL.format(1))
    again = page_fields(news_page(1).replace("<p>", "<p>Updated: ").encode(), URL.format(1))
    assert first["id"] == again["id"] and first["text"] != again["text"]
    assert page_fields(news_page(1).encode(), URL.format(2))["id"] != first["id"]
    canonical = page_fields(news_page(1, canonical=URL.format(9)).encode(), URL.format(1))
    assert canonical["url"] == URL.format(9)


def test_a_page_without_a_canonical_url_is_named_by_its_file(tmp_path: Path) -> None:
    (tmp_path / "2024").mkdir()
    (tmp_path / "2024" / "story.htm").write_text(news_page(2), encoding="utf-8")
    [article] = split_records(list(read_articles([tmp_path])))[0]
    assert article.article_id == "2024/story"
    assert article.url == str(tmp_path / "2024" / "story.htm")


def test_a_page_with_no_article_is_a_problem_not_an_article(tmp_path: Path) -> None:
    (tmp_path / "404.html").write_text(ERROR_PAGE, encoding="utf-8")
    (tmp_path / "empty.html").write_bytes(b"")
    (tmp_path / "binary.html").write_bytes(b"\x00\x01\x02" * 100)
    articles, problems = split_records(list(read_articles([tmp_path])))
    assert articles == []
    assert {(Path(p.path).name, p.reason.split(" (")[0]) for p in problems} == {
        ("404.html", "no article text"),
        ("empty.html", "empty page"),
        ("binary.html", "not HTML"),
    }


@pytest.mark.parametrize(
    ("data", "charset", "expected", "warning"),
    [
        ("<meta charset='windows-1252'><p>café</p>".encode("cp1252"), None, "café", None),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>né</p>'.encode("latin-1"),
            None,
            "né",
            None,
        ),
        (b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", None, "café", None),
        ("<p>café</p>".encode(), None, "café", None),  # nothing declared: UTF-8
        ("<p>café</p>".encode("cp1252"), "windows-1252", "café", None),  # the HTTP header's charset
        ("<meta charset='koi8-r'><p>Новости</p>".encode("koi8-r"), None, "Новости", None),
        # Wrong or unusable declarations: the page is still read, with a warning that says what happened.
        ("<p>café</p>".encode("cp1252"), None, "café", "no charset declared and not UTF-8"),
        ("<meta charset='utf-8'><p>café</p>".encode("cp1252"), None, "café", "declared charset 'utf-8' but the page"),
        ("<meta charset='iso-8859-1'><p>café</p>".encode(), None, "café", "declared charset 'iso-8859-1' but the page"),
        ("<meta charset='no-such-charset'><p>café</p>".encode(), None, "café", "unknown charset 'no-such-charset'"),
    ],
)
def test_pages_are_read_in_the_encoding_they_were_served_in(
    data: bytes, charset: str | None, expected: str, warning: str | None
) -> None:
    text, said = decode_page(data, charset)
    assert expected in text
    assert (said or "").startswith(warning or "") and bool(said) == bool(warning)


def test_a_page_in_a_wrong_charset_is_indexed_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "story.html"
    path.write_bytes(news_page(3, charset="utf-8").replace("<p>", "<p>Café library. ", 1).encode("cp1252"))
    articles, problems = split_records(list(read_file(path)))
    assert len(articles) == 1 and "Café library" in articles[0].text
    [warning] = problems
    assert not warning.skipped and warning.line == 1 and "declared charset 'utf-8'" in warning.reason


def test_a_warc_gives_every_html_response_and_passes_over_the_rest_by_why(tmp_path: Path) -> None:
    report = IntakeReport()
    articles = list(Intake(report).accept(read_articles([crawl(tmp_path)])))
    assert [a.url for a in articles] == [URL.format(i) for i in range(3)]
    with open(tmp_path / "crawl.warc.gz", "rb") as f:
        records = ArchiveIterator(f)
        starts = {
            r.rec_headers.get_header("WARC-Target-URI"): records.get_record_offset()
            for r in records
            if r.rec_type == "response" and r.http_headers.get_statuscode() == "200"
        }
    assert [a.where for a in articles] == [f"{tmp_path / 'crawl.warc.gz'}:{starts[a.url]}" for a in articles]
    assert report.read == 3  # the records passed over are not articles read
    reasons = sorted(p.reason for p in report.problems if p.expected)
    assert reasons == sorted(
        ["WARC warcinfo record"]
        + ["WARC request record"] * 7
        + ["WARC metadata record"] * 7
        + ["HTTP status not 200 (404)", "HTTP status not 200 (301)", "not HTML (image/png)", "WARC revisit record"]
    )
    assert bad_input(report.problems) == []


def test_records_passed_over_cost_no_html_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str | None] = []
    real = web.page_fields
    monkeypatch.setattr(web, "page_fields", lambda data, url=None, charset=None: parsed.append(url) or real(data, url))
    list(read_articles([crawl(tmp_path)]))
    assert parsed == [URL.format(i) for i in range(3)]


def test_plain_and_gzipped_warcs_give_the_same_articles(tmp_path: Path) -> None:
    zipped = split_records(list(read_articles([crawl(tmp_path)])))[0]
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    plain = split_records(list(read_articles([crawl(plain_dir, gzipped=False)])))[0]
    assert [(a.article_id, a.text) for a in plain] == [(a.article_id, a.text) for a in zipped]


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_cut_warc_is_reported_at_its_offset_and_the_records_before_it_are_read(tmp_path: Path, gzipped: bool) -> None:
    whole = crawl(tmp_path, n=4, metadata=False, gzipped=gzipped)
    complete = split_records(list(read_file(whole)))[0]
    data = whole.read_bytes()
    cut = tmp_path / ("cut.warc.gz" if gzipped else "cut.warc")
    last = int(complete[3].where.rpartition(":")[2])
    with open(whole, "rb") as f:
        records = ArchiveIterator(f)
        length = next(records.get_record_length() for _ in records if records.get_record_offset() == last)
    cut.write_bytes(data[: last + length // 2])  # inside the fourth page's record
    articles, problems = split_records(list(read_file(cut)))
    assert [a.article_id for a in articles] == [a.article_id for a in complete[:3]]
    [bad] = bad_input(problems)
    assert bad.path == str(cut) and bad.line == last and "truncated" in bad.reason


def test_a_strict_build_is_not_failed_by_records_passed_over(tmp_path: Path) -> None:
    from index.build import BuildReport, refuse_failed

    report = BuildReport(indexed=1, problems=[Problem("x.warc", 0, "WARC request record", expected=True)])
    refuse_failed(report, ["x.warc"], strict=True)
    assert "passed over 1 records" in report.summary() and "skipped 0" in report.summary()


def test_index_read_prints_what_a_build_would_index_and_reports_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "404.html").write_text(ERROR_PAGE, encoding="utf-8")
    code, out, err = run_cli(index_cli.main, ["read", str(crawl(tmp_path)), str(tmp_path / "404.html")], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["url"] for r in rows] == [URL.format(i) for i in range(3)]
    assert set(rows[0]) == {"id", "title", "date", "source", "url", "text"}
    assert "404.html:1: skipped: no article text" in err
    assert "skipped 7: WARC request record" in err and "skipped 1: not HTML" in err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    junk=st.binary(max_size=600),
    cut=st.floats(min_value=0, max_value=1),
    keep_rest=st.booleans(),
    name=st.sampled_from(["x.warc.gz", "x.warc", "x.html"]),
)
def test_junk_and_cut_files_are_reported_never_raised(
    tmp_path: Path, junk: bytes, cut: float, keep_rest: bool, name: str
) -> None:
    fetches = [Fetch(URL.format(i), news_page(i).encode()) for i in range(2)]
    base = write_warc(tmp_path / "base.warc.gz", fetches, metadata=False)
    data = base.read_bytes() if name == "x.warc.gz" else gzip.decompress(base.read_bytes())
    at = int(len(data) * cut)
    path = tmp_path / name
    path.write_bytes(data[:at] + junk + (data[at:] if keep_rest else b""))  # junk inside the file, or a cut file
    records = list(read_file(path))
    assert all(isinstance(record, Article | Problem) for record in records)
    if name != "x.html" and not junk and (keep_rest or at < len(data) - 16):  # not just the trailer or blank lines
        assert (len(split_records(records)[0]) == 2) == keep_rest


def test_the_html_news_pages_as_a_warc_give_the_same_articles_as_the_saved_pages(tmp_path: Path) -> None:
    pages = html_news_pages(12)
    warc = write_warc(tmp_path / "news.warc.gz", [Fetch(url, page, content_type="text/html") for _, url, page in pages])
    from_warc = split_records(list(read_file(warc)))[0]
    folder = tmp_path / "saved"
    folder.mkdir()
    for key, _, page in pages:
        (folder / f"{key}.html.gz").write_bytes(gzip.compress(page))
    saved = split_records(list(read_articles([folder])))[0]
    assert len(from_warc) == len(pages)
    assert [(a.title, a.text, a.date) for a in from_warc] == [(a.title, a.text, a.date) for a in saved]
    assert all(a.title and a.date and a.source for a in from_warc)
    cut = tmp_path / "cut.warc.gz"  # the same crawl, its file cut in the middle of a gzip member
    cut.write_bytes(warc.read_bytes()[: warc.stat().st_size // 2])
    articles, problems = split_records(list(read_file(cut)))
    assert 0 < len(articles) < len(pages) and articles == from_warc[: len(articles)]
    [bad] = bad_input(problems)
    assert bad.path == str(cut) and bad.line > int(articles[-1].where.rpartition(":")[2]) and "truncated" in bad.reason


def test_a_build_from_a_warc_counts_the_records_passed_over_by_why(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str], open_reader: OpenReader
) -> None:
    argv = [
        "build",
        str(crawl(tmp_path)),
        "--index",
        str(tmp_path / "index"),
        "--no-cache",
        "--no-progress",
        "--strict",
    ]
    code, _, err = run_cli(index_cli.main, argv, capsys)
    assert code == 0
    assert "read 3 articles: indexed 3, skipped 0" in err
    assert "passed over 19 records" in err and "skipped 7: WARC request record" in err
    assert "WARC request record" not in err.split("read 3 articles")[0]  # counted, not listed one per line
    assert open_reader(tmp_path / "index").articles == 3


def test_the_ray_builds_read_stage_gives_the_local_readers_records(tmp_path: Path) -> None:
    from index.distributed import read_stage

    warc = crawl(tmp_path)
    rows = list(read_stage({"path": str(warc), "root": ""}))
    back = [(Problem if r["kind"] == "problem" else Article)(**json.loads(r["record"])) for r in rows]
    assert back == list(read_file(warc))
    assert sum(isinstance(r, Article) for r in back) == 3


def test_a_strict_build_fails_on_a_page_with_no_article_and_leaves_no_index(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fetches = [Fetch(URL.format(0), news_page(0).encode()), Fetch(URL.format(1), ERROR_PAGE.encode())]
    warc = write_warc(tmp_path / "crawl.warc", fetches, gzipped=False)
    argv = ["build", str(warc), "--index", str(tmp_path / "index"), "--no-cache", "--no-progress"]
    code, _, err = run_cli(index_cli.main, [*argv, "--strict"], capsys)
    assert code == 2 and "no article text" in err and "--strict: 1 problems" in err
    assert not (tmp_path / "index" / "current").exists()
    assert run_cli(index_cli.main, argv, capsys)[0] == 0


@pytest.mark.parametrize("gzipped", [True, False])
def test_a_corrupt_record_in_the_middle_is_reported_and_the_records_after_it_are_read(
    tmp_path: Path, gzipped: bool
) -> None:
    whole = crawl(tmp_path, n=4, metadata=False, gzipped=gzipped)
    complete = split_records(list(read_file(whole)))[0]
    second = int(complete[1].where.rpartition(":")[2])
    data = bytearray(whole.read_bytes())
    data[second : second + 40] = b"\x00junk" * 8  # the second page's gzip header (or WARC header line) destroyed
    bad_file = tmp_path / ("bad.warc.gz" if gzipped else "bad.warc")
    bad_file.write_bytes(bytes(data))
    articles, problems = split_records(list(read_file(bad_file)))
    assert [a.article_id for a in articles] == [complete[i].article_id for i in (0, 2, 3)]
    [bad] = bad_input(problems)
    assert bad.line == second and "corrupt" in bad.reason


def test_a_page_that_declares_no_date_gets_none_never_the_crawl_time(tmp_path: Path) -> None:
    undated = Fetch("https://news.example.org/story-without-a-date", news_page(4, date=None).encode())
    dated = Fetch("https://news.example.org/story-with-a-date", news_page(5, date="2019-11-18").encode())
    warc = write_warc(tmp_path / "crawl.warc.gz", [undated, dated])  # its records carry today's WARC-Date
    articles = split_records(list(read_file(warc)))[0]
    assert [a.date for a in articles] == [None, "2019-11-18"]


def test_index_read_prints_exactly_the_articles_a_build_indexes(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str], open_reader: OpenReader
) -> None:
    news = tmp_path / "news.jsonl"
    good = {"id": "a1", "title": "Ferry strike", "text": "The ferry crews walked out.", "date": "2024-05-06"}
    lines = [json.dumps(good), "{broken", json.dumps({**good, "title": "Again"}), json.dumps({"id": "a2", "text": "x"})]
    news.write_text("\n".join(lines) + "\n", encoding="utf-8")
    inputs = [str(news), str(crawl(tmp_path))]
    code, out, err = run_cli(index_cli.main, ["read", *inputs], capsys)
    assert code == 0 and f"{news}:2: skipped: invalid JSON" in err and "duplicate article id 'a1'" in err
    printed = {row["id"]: row for row in map(json.loads, out.splitlines())}
    argv = ["build", *inputs, "--index", str(tmp_path / "index"), "--no-cache", "--no-progress"]
    assert run_cli(index_cli.main, argv, capsys)[0] == 0
    reader = open_reader(tmp_path / "index")
    assert set(printed) == reader.article_ids() and len(printed) == 5
    for article_id, row in printed.items():
        stored = reader.article(article_id)
        assert stored is not None
        assert (stored["title"], stored["date"], stored["url"]) == (row["title"], row["date"], row["url"])


def test_adding_a_recrawl_updates_the_changed_page_and_skips_the_same_ones(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str], open_reader: OpenReader
) -> None:
    first = write_warc(tmp_path / "monday.warc.gz", [Fetch(URL.format(i), news_page(i).encode()) for i in range(3)])
    index_dir = tmp_path / "index"
    assert (
        run_cli(
            index_cli.main, ["build", str(first), "--index", str(index_dir), "--no-cache", "--no-progress"], capsys
        )[0]
        == 0
    )
    pages = [news_page(i) for i in range(3)]
    pages[1] = pages[1].replace("<p>", "<p>Correction appended. ", 1)
    again = write_warc(tmp_path / "tuesday.warc.gz", [Fetch(URL.format(i), p.encode()) for i, p in enumerate(pages)])
    code, _, err = run_cli(index_cli.main, ["add", str(again), "--index", str(index_dir), "--no-cache"], capsys)
    assert code == 0 and "added 0, updated 1, unchanged 2" in err
    assert open_reader(index_dir).articles == 3


def test_a_page_too_large_to_be_an_article_is_reported_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "MAX_RECORD_CHARS", 2_000)
    (tmp_path / "huge.html").write_text(news_page(1), encoding="utf-8")
    warc = write_warc(tmp_path / "huge.warc.gz", [Fetch(URL.format(1), news_page(1).encode())], metadata=False)
    problems = [
        r
        for path in (tmp_path / "huge.html", warc)
        for r in read_file(path)
        if isinstance(r, Problem) and not r.expected
    ]
    assert [p.reason for p in problems] == ["page larger than 2,000 bytes; not read"] * 2


def test_a_page_the_extractor_fails_on_is_a_problem_and_the_rest_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = web.page_fields

    def fails_on_story_1(data: bytes, url: str | None = None, charset: str | None = None) -> dict[str, Any]:
        if url == URL.format(1):
            raise RecursionError("maximum recursion depth exceeded")
        return real(data, url, charset)

    monkeypatch.setattr(web, "page_fields", fails_on_story_1)
    articles, problems = split_records(list(read_file(crawl(tmp_path))))
    assert [a.url for a in articles] == [URL.format(0), URL.format(2)]
    assert [p.reason for p in bad_input(problems)] == [
        "page could not be parsed (RecursionError: maximum recursion depth exceeded)"
    ]


def test_the_extractor_s_justext_fallback_imports_with_this_lxml() -> None:
    # trafilatura's fallback imports lxml.html.clean, which lxml >= 5.2 ships apart (lxml_html_clean in pyproject).
    import importlib

    assert importlib.import_module("lxml.html.clean").Cleaner
    assert importlib.import_module("trafilatura.external").justext_rescue
