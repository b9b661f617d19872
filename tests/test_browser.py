"""The web page in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Serves a made-up archive (with wire copies) from a real uvicorn server on loopback, then searches like a person:
results with highlights, a date filter, folded copies, the next page, an error, a phone-sized screen. A second
archive with known dates and sources (tests/search/coverage_data.py) drives the coverage chart: a bar, an outlet,
a second query, the CSV export.
Screenshots land in test-output/browser/ (or $DATELINE_TEST_OUTPUT). CI installs Chromium (.ci/run); elsewhere
the test skips, saying why, when Chromium or Playwright is missing.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from index.reader import IndexReader
from search.searcher import Searcher
from tests.fakes import FakeEncoder, fake_index, wire_copies
from tests.search import coverage_data

CHROMIUM = os.environ.get("DATELINE_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(os.environ.get("DATELINE_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output")) / "browser"
# As root, in a closed network: no sandbox, no background connections (they would be refused, many at a time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow


def _need_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[test]')")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + "; .ci/run installs them")
        pytest.skip(message)


@contextlib.contextmanager
def _serve(work: Path, read_key: str | None = None, records: list[dict[str, Any]] | None = None) -> Iterator[str]:
    """A real uvicorn server on loopback over a made-up archive (default: with wire copies); yields its base URL."""
    import uvicorn

    from search.app import create_app
    from search.settings import Settings

    index = fake_index(work, wire_copies() if records is None else records)
    app = create_app(Settings(index=index, read_key=read_key), searcher=Searcher(IndexReader(index), FakeEncoder()))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start within 20 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _need_browser()
    with _serve(tmp_path_factory.mktemp("browser")) as url:
        yield url


@pytest.fixture(scope="module")
def coverage_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _need_browser()
    with _serve(tmp_path_factory.mktemp("coverage"), records=coverage_data.records()) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    profile = OUTPUT.parent / ".chromium-profile"
    shutil.rmtree(profile, ignore_errors=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS])
        yield b
        b.close()


def test_a_person_searches_filters_and_pages(base_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(base_url + "/")
    page.wait_for_selector("#source option:nth-child(2)", state="attached")  # sources loaded
    page.fill("#q", "harbour ferry budget storm")
    page.press("#q", "Enter")
    page.wait_for_selector("article.hit")
    assert page.locator("article.hit").count() == 10
    assert page.is_hidden("#keyform")  # an open archive never asks for a key
    assert page.locator("article.hit b.term").count() > 0  # the query's words, marked
    assert page.locator("article.hit mark.sentence").count() > 0  # the best sentence of each passage
    assert "q=harbour+ferry+budget+storm" in page.url
    page.screenshot(path=str(OUTPUT / "results.png"), full_page=True)

    # A date filter: every card is dated within it, and the URL keeps it.
    page.fill("#from", "2024-05-01")
    page.dispatch_event("#from", "change")
    page.wait_for_function("location.search.includes('from=2024-05-01')")
    page.wait_for_selector("#status:has-text('Results')")
    dates = [m.split(" · ")[-1] for m in page.locator("article.hit .meta").all_inner_texts()]
    assert dates and all(d >= "2024-05-01" for d in dates), dates
    page.screenshot(path=str(OUTPUT / "filtered.png"), full_page=True)

    # The next page continues the ranking; the previous one comes back.
    page.fill("#from", "")
    page.dispatch_event("#from", "change")
    page.wait_for_function("!location.search.includes('from=')")
    page.wait_for_selector("#status:has-text('Results 1–10')")
    first = page.locator("article.hit").first.get_attribute("data-article")
    page.click("#next")
    page.wait_for_selector("#status:has-text('Results 11–')")
    assert page.locator("article.hit").first.get_attribute("data-article") != first
    page.click("#prev")
    page.wait_for_selector("#status:has-text('Results 1–10')")
    assert page.locator("article.hit").first.get_attribute("data-article") == first

    # 'More passages from this article' loads the article's other matching passages under the card.
    more = page.locator("article.hit button.link").first
    more.click()
    page.wait_for_selector("article.hit .more-passages p")

    # An impossible date range is explained, not a blank page.
    page.fill("#from", "2024-09-01")
    page.fill("#to", "2024-01-01")
    page.dispatch_event("#to", "change")
    page.wait_for_selector("#status.error")
    assert "swap them" in page.inner_text("#status")
    page.close()


def test_wire_copies_are_folded_into_one_card(base_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    story = wire_copies()[5]
    words = story["title"]  # "Harbour council story number 4: ...": the "4" is in its three copies' titles only
    page.goto(base_url + "/?" + f"q={words}&mode=lexical")  # BM25 puts the story (one of its copies) first
    page.wait_for_selector("article.hit")
    cards = page.locator("article.hit")
    ids = [cards.nth(i).get_attribute("data-article") for i in range(cards.count())]
    copies = [i for i in ids if i and i.startswith(story["id"])]
    assert len(copies) == 1 and ids[0] == copies[0]
    assert page.locator("article.hit").first.locator("details.similar summary").inner_text() == "2 similar articles"
    page.uncheck("#collapse")
    page.wait_for_function("location.search.includes('collapse=false')")
    page.wait_for_selector("#status:has-text('Results')")
    assert page.locator("article.hit details.similar").count() == 0
    page.close()


def test_phone_sized_screen_and_empty_state(base_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page.goto(base_url + "/?q=ferry+crews+strike")
    page.wait_for_selector("article.hit")
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")  # no sideways scrolling
    page.screenshot(path=str(OUTPUT / "phone.png"), full_page=False)
    page.goto(base_url + "/?q=ferry&source=Valley+Post&from=2030-01-01")
    page.wait_for_selector(".empty")
    assert "wider date range" in page.inner_text(".empty")
    page.close()


def test_an_archive_behind_a_read_key_asks_for_it_once(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with _serve(tmp_path, read_key="s3cret-read") as url:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url + "/?q=harbour+ferry")
        page.wait_for_selector("#keyform", state="visible")  # asked, not a blank page
        # The sources list (loaded beside the search) may be refused first and show the form; the search's own
        # refusal then says why in the status line.
        page.wait_for_selector("#status:has-text('needs a read key')")
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "read-key.png"))
        page.fill("#key", "wrong")
        page.press("#key", "Enter")
        page.wait_for_selector("#status:has-text('refused')")
        page.fill("#key", "s3cret-read")
        page.press("#key", "Enter")
        page.wait_for_selector("article.hit")
        assert page.is_hidden("#keyform")
        page.wait_for_selector("#source option:nth-child(2)", state="attached")  # sources loaded with the key
        page.fill("#q", "storm budget")  # the key is kept for the next search in this tab
        page.press("#q", "Enter")
        page.wait_for_selector("#status:has-text('Results')")
        assert page.locator("article.hit").count() > 0
        page.wait_for_selector("#chart svg, #chart .chart-note:not(.error)")  # the chart asked with the key too
        with page.expect_download() as got:  # a plain link would be refused: the page fetches it with the key
            page.click("#csv")
        exported = Path(got.value.path()).read_text(encoding="utf-8")
        assert exported.startswith("id,date,source,title,url,score"), exported[:200]
        page.close()


# The fake encoder's cosines are not the model's: its rescue reports score >= 0.57 and the others <= 0.43
# (tests/search/test_coverage_api.py), so the page is given a cosine cut in its URL, as a user may, and matches by
# the cosine alone (mode=dense), whatever the tuned cuts of the modes are.
MATCH = {"cut": "0.5", "mode": "dense"}
OTHER = "Traders at the market said flour and wheat prices rose again this winter"  # the harbour reports


def _coverage(page: Any, base: str, **params: str) -> dict[str, Any]:
    """What GET /coverage answers, asked beside the page."""
    response = page.request.get(base + "/coverage?" + urlencode({**MATCH, **params}))
    assert response.ok, response.text()
    return response.json()  # type: ignore[no-any-return]


def _cards(page: Any) -> list[tuple[str, str]]:
    """(source, date) of every result card shown."""
    metas = page.locator("article.hit .meta").all_inner_texts()
    return [tuple(m.split(" · ")) for m in metas]  # type: ignore[misc]


def _script_errors(page: Any) -> list[str]:
    """The page's uncaught script errors, collected as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def _searched(page: Any, url_part: str) -> None:
    page.wait_for_function(f"location.search.includes({url_part!r})")
    page.wait_for_selector("#status:has-text('Results')")


def test_a_bar_of_the_coverage_chart_narrows_the_results_to_its_week(coverage_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = _script_errors(page)
    page.goto(coverage_url + "/?" + urlencode({"q": coverage_data.QUERY, **MATCH, "interval": "week"}))
    page.wait_for_selector("#chart .bucket")
    expected = _coverage(page, coverage_url, q=coverage_data.QUERY, interval="week")
    bars = page.locator("#chart .bucket")
    assert bars.count() == len(expected["series"]) > 1
    labels = bars.evaluate_all("gs => gs.map(g => g.getAttribute('aria-label'))")
    for bucket, label in zip(expected["series"], labels, strict=True):  # every bar says its interval and count
        assert label.startswith(bucket["label"] + " (") and f": {bucket['count']} article" in label, label
    # The page's own ISO-week labels (for the gaps between two series) agree with the API's, across the year ends.
    ours = page.evaluate("series => series.map(b => bucketLabel(b.start, 'week'))", expected["series"])
    assert ours == [bucket["label"] for bucket in expected["series"]]
    assert f"{expected['total']} articles ({expected['undated']} undated)" in page.inner_text("#legend")
    assert expected["matching"] in page.inner_text("#matching")
    page.screenshot(path=str(OUTPUT / "coverage.png"), full_page=True)

    busiest = max(expected["series"], key=lambda b: b["count"])
    start = datetime.date.fromisoformat(busiest["start"])
    end = str(start + datetime.timedelta(days=6))
    page.click(f'#chart .bucket[data-start="{busiest["start"]}"]')
    _searched(page, f"bar={busiest['label']}")
    assert f"from={busiest['start']}&to={end}" in page.url
    shown = _cards(page)
    assert shown and all(busiest["start"] <= date <= end for _, date in shown), shown
    assert bars.count() == len(expected["series"])  # the chart still shows the whole series
    assert page.get_attribute("#chart .bucket.selected", "data-start") == busiest["start"]
    assert f"the {busiest['count']} of {busiest['label']}" in page.inner_text("#coverage")

    page.reload()  # the URL restores the narrowing and the highlighted bar
    page.wait_for_selector("#chart .bucket.selected")
    assert (page.input_value("#from"), page.input_value("#to")) == (busiest["start"], end)
    page.go_back()  # before the click: the whole range, no bar
    page.wait_for_function("!location.search.includes('bar=')")
    page.wait_for_selector("#chart .bucket")
    assert page.locator("#chart .bucket.selected").count() == 0 and page.input_value("#from") == ""

    # The keyboard: a bar takes focus, the arrows move along the series, Enter narrows; "Show all dates" undoes.
    page.focus('#chart .bucket[tabindex="0"]')
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    second = expected["series"][1]
    _searched(page, f"bar={second['label']}")
    second_end = str(datetime.date.fromisoformat(second["start"]) + datetime.timedelta(days=6))
    narrowed = _cards(page)
    assert narrowed and all(second["start"] <= date <= second_end for _, date in narrowed), narrowed
    page.click("#all-dates")
    page.wait_for_function("!location.search.includes('bar=') && !location.search.includes('from=')")
    page.wait_for_selector("#status:has-text('Results')")
    assert page.locator("#chart .bucket.selected").count() == 0 and len(_cards(page)) > len(shown)
    assert not errors, errors  # no script error on the way
    page.close()


def test_an_outlet_filters_a_second_query_compares_and_the_csv_export_has_every_match(  # type: ignore[no-untyped-def]
    coverage_url: str, browser
) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = _script_errors(page)
    page.goto(coverage_url + "/?" + urlencode({"q": coverage_data.QUERY, **MATCH}))
    page.wait_for_selector("#outlets button")
    outlet = "Valley Post"
    page.click(f"#outlets button:has-text('{outlet}')")
    _searched(page, "source=Valley+Post")
    shown = _cards(page)
    assert shown and all(source == outlet for source, _ in shown), shown
    page.wait_for_selector("#outlets button[aria-pressed=true]")
    expected = _coverage(page, coverage_url, q=coverage_data.QUERY, source=outlet)
    assert f"all {expected['total']}" in page.inner_text("#coverage")

    with page.expect_download() as got:
        page.click("#csv")
    with open(got.value.path(), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "date", "source", "title", "url", "score"]
    assert len(rows) - 1 == expected["total"] > 0 and all(row[2] == outlet for row in rows[1:])
    jsonl = page.request.get(coverage_url + page.get_attribute("#jsonl", "href"))
    assert len(jsonl.text().splitlines()) == expected["total"]

    page.fill("#vs", OTHER)
    page.press("#vs", "Enter")
    page.wait_for_function("location.search.includes('vs=')")
    page.wait_for_selector("#chart .bar.s1", state="attached")
    assert page.locator("#legend .swatch").count() == 2
    other = _coverage(page, coverage_url, q=OTHER, source=outlet)
    drawn = page.locator("#chart .bucket").evaluate_all(
        "gs => gs.map(g => g.getAttribute('aria-label').match(/, (\\d+) articles? for/)[1])"
    )
    assert sum(map(int, drawn)) == other["total"] - other["undated"] > 0  # the second series, bar by bar
    page.reload()
    page.wait_for_selector("#chart .bar.s1", state="attached")
    assert page.input_value("#vs") == OTHER
    page.click("#legend button:has-text('remove')")  # back to one series
    page.wait_for_function("!location.search.includes('vs=')")
    page.wait_for_selector("#chart .bar.s1", state="detached")  # the one-series chart, once /coverage answered
    assert page.locator("#legend .swatch").count() == 1
    assert not errors, errors  # no script error on the way
    page.close()


def test_the_chart_says_when_nothing_matches_or_the_interval_is_too_fine(coverage_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    errors = _script_errors(page)
    page.goto(coverage_url + "/?" + urlencode({"q": coverage_data.QUERY, **MATCH, "vs": OTHER}))
    page.wait_for_selector("#chart .bar.s1", state="attached")
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")  # no sideways scrolling
    page.screenshot(path=str(OUTPUT / "coverage-phone.png"), full_page=False)
    page.goto(coverage_url + "/?" + urlencode({"q": coverage_data.QUERY, **MATCH, "cut": "0.99"}))
    page.wait_for_selector("#chart .chart-note")
    assert page.inner_text("#chart") == "No matching articles."
    too_fine = {"q": coverage_data.QUERY, "interval": "day", "from": "2000-01-01", "to": "2024-12-31"}
    page.goto(coverage_url + "/?" + urlencode(too_fine))
    page.wait_for_selector("#chart .chart-note.error")
    assert "use interval=week" in page.inner_text("#chart")
    page.wait_for_selector("#status:has-text('Results')")  # the search itself still answers
    assert not errors, errors  # no script error on the way
    page.close()


def test_what_the_search_understood_shows_as_chips_that_remove_it(base_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(base_url + "/")
    page.fill("#q", "Harbour Gazette ferry strike May 2024")
    page.press("#q", "Enter")
    page.wait_for_selector("#understood button")
    chips = page.locator("#understood button").all_inner_texts()
    assert any(c.startswith("May 2024: 2024-05-01 to 2024-05-31") for c in chips), chips
    assert any("Harbour Gazette" in c for c in chips), chips
    page.screenshot(path=str(OUTPUT / "understood.png"), full_page=True)
    page.locator("#understood button", has_text="May 2024").click()
    page.wait_for_function("location.search.includes('ignore=time')")
    page.wait_for_function(
        "![...document.querySelectorAll('#understood button')].some(b => b.textContent.startsWith('May 2024'))"
    )
    assert page.locator("#understood button", has_text="Harbour Gazette").count() == 1
    page.go_back()
    page.wait_for_function("!location.search.includes('ignore=')")
    page.wait_for_selector("#understood button:has-text('May 2024')")
    page.close()
