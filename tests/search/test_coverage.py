"""Coverage counts on made-up news with known dates, sources, a wire copy and undated articles (coverage_data)."""

from __future__ import annotations

import datetime
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index.errors import TooManyBuckets
from index.lexical import query_terms
from index.reader import IndexReader
from index.update import delete_articles
from search.coverage import Coverage, CoverageConfig, CoverageOptions
from tests.fakes import FakeEncoder, fake_index
from tests.search.coverage_data import QUERY, records, rescue_ids

CUT = 0.5  # on this data the rescue reports score >= 0.57 and the others <= 0.43 (the fake encoder's cosines)


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexReader]:
    opened = IndexReader(fake_index(tmp_path_factory.mktemp("coverage"), records()))
    yield opened
    opened.close()


@pytest.fixture
def coverage(reader: IndexReader) -> Coverage:
    return Coverage(reader, FakeEncoder(), CoverageConfig(depth=2))  # depth 2: the widening is exercised


def counted(coverage: Coverage, query: str = QUERY, **options: object) -> dict[str, int]:
    """The non-empty buckets of a count, label -> count."""
    result = coverage.count(query, CoverageOptions(cut=CUT, **options))  # type: ignore[arg-type]
    return {b.label: b.count for b in result.series if b.count}


def matched_ids(coverage: Coverage, query: str = QUERY, **options: object) -> set[str]:
    found = coverage.matches(query, CoverageOptions(cut=CUT, **options))  # type: ignore[arg-type]
    return {p.article_id for p, _ in coverage.passages(found)}


def test_the_matching_articles_are_the_rescue_reports_with_the_wire_copy_counted_once(coverage: Coverage) -> None:
    assert matched_ids(coverage) == rescue_ids(collapse=True)
    assert matched_ids(coverage, collapse=False) == rescue_ids(collapse=False)


def test_weekly_buckets_are_exact_across_iso_year_boundaries_with_undated_counted_apart(coverage: Coverage) -> None:
    result = coverage.count(QUERY, CoverageOptions(cut=CUT, interval="week"))
    assert (result.total, result.undated, result.interval) == (9, 2, "week")
    nonzero = {b.label: b.count for b in result.series if b.count}
    # 2019-12-29 is a Sunday of 2019-W52; 2019-12-30 opens ISO 2020-W01; 2020 has 53 ISO weeks, up to 2021-01-03.
    assert nonzero == {"2019-W52": 1, "2020-W01": 2, "2020-W53": 2, "2021-W01": 1, "2021-W07": 1}
    assert result.series[0].start == datetime.date(2019, 12, 23) and result.series[-1].start.isoformat() == "2021-02-15"
    assert all(b.start.weekday() == 0 for b in result.series)
    assert len(result.series) == 61 and sum(b.count for b in result.series) == result.total - result.undated


def test_collapse_off_counts_the_wire_copy_in_its_own_day(coverage: Coverage) -> None:
    window = {"start": datetime.date(2020, 12, 28), "end": datetime.date(2021, 1, 5), "interval": "day"}
    assert counted(coverage, **window) == {"2020-12-28": 1, "2021-01-03": 1, "2021-01-04": 1}
    assert counted(coverage, collapse=False, **window) == {
        "2020-12-28": 1,
        "2021-01-03": 1,
        "2021-01-04": 1,
        "2021-01-05": 1,
    }
    result = coverage.count(QUERY, CoverageOptions(cut=CUT, **window))  # type: ignore[arg-type]
    assert len(result.series) == 9 and result.undated == 0  # a date filter drops undated articles, as in /search


def test_a_source_filter_counts_only_that_source_case_insensitively_by_month(coverage: Coverage) -> None:
    result = coverage.count(QUERY, CoverageOptions(cut=CUT, sources=["alpine courier"], interval="month"))
    assert (result.total, result.undated) == (4, 1)
    assert {b.label: b.count for b in result.series if b.count} == {"2019-12": 2, "2021-01": 1}
    assert len(result.series) == 14 and result.top_sources == [("Alpine Courier", 4)]


def test_as_of_counts_the_archive_as_it_stood_that_day(coverage: Coverage) -> None:
    assert counted(coverage, as_of=datetime.date(2020, 6, 30), interval="month") == {"2019-12": 2, "2020-01": 1}


def test_top_sources_count_stories_or_copies(coverage: Coverage) -> None:
    collapsed = coverage.count(QUERY, CoverageOptions(cut=CUT))
    assert collapsed.top_sources == [("Alpine Courier", 4), ("Valley Post", 3), ("Summit News", 2)]
    copies = coverage.count(QUERY, CoverageOptions(cut=CUT, collapse=False))
    assert dict(copies.top_sources) == {"Alpine Courier": 4, "Valley Post": 3, "Summit News": 2, "Wire Echo": 1}
    assert copies.total == 10


@pytest.mark.parametrize("exact", [True, False], ids=["every-score", "widened-search"])
@pytest.mark.parametrize("cut", [0.2, 0.45, CUT, 0.65])
def test_dense_matches_equal_numpy_brute_force_over_every_passage(
    coverage: Coverage, reader: IndexReader, cut: float, exact: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not exact:  # a read side without every_score (or an index keeping no flat vectors): the widened search
        monkeypatch.setattr(IndexReader, "every_score", lambda *_: None)
    vectors = reader.vectors(range(reader.passages))
    cosines = vectors @ FakeEncoder().queries([QUERY])[0]
    expected = {reader.article_of(row) for row in np.flatnonzero(cosines >= cut)}
    found = coverage.matches(QUERY, CoverageOptions(mode="dense", cut=cut, collapse=False))
    assert {reader.article_of(m.row) for m in found} == expected
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_the_default_interval_follows_the_range_and_the_response_states_the_cut(coverage: Coverage) -> None:
    result = coverage.count(QUERY, CoverageOptions(cut=CUT))
    assert (
        result.interval == "week"
        and result.cut == CUT
        and "BM25 share" in result.matching
        and ">= 0.5" in result.matching
    )
    january = CoverageOptions(cut=CUT, start=datetime.date(2021, 1, 1), end=datetime.date(2021, 1, 31))
    assert coverage.count(QUERY, january).interval == "day"


def test_an_empty_result_is_an_empty_series_not_an_error(coverage: Coverage) -> None:
    result = coverage.count(QUERY, CoverageOptions(cut=0.99))
    assert (result.total, result.undated, result.series, result.top_sources) == (0, 0, [], [])


def test_too_many_buckets_are_refused_naming_an_interval_that_fits(reader: IndexReader) -> None:
    few = Coverage(reader, FakeEncoder(), CoverageConfig(max_buckets=50))
    with pytest.raises(TooManyBuckets, match=r"makes 415 buckets \(at most 50\): use interval=month"):
        few.count(QUERY, CoverageOptions(cut=CUT, interval="day"))
    assert few.count(QUERY, CoverageOptions(cut=CUT, interval="month")).interval == "month"


def _all_words_oracle(query: str) -> set[str]:
    wanted = set(query_terms(query).split())
    return {r["id"] for r in records() if wanted <= set(re.findall(r"\w+", f"{r['title']}\n{r['text']}".lower()))}


@pytest.mark.parametrize(
    "query", ["avalanche ridge", "harbour ferry budget", "glacier harbour", "the ferry strike", "report 3 sledges"]
)
def test_lexical_mode_counts_articles_holding_every_word_of_the_query(coverage: Coverage, query: str) -> None:
    expected = _all_words_oracle(query)
    assert matched_ids(coverage, query, mode="lexical", collapse=False) == expected
    result = coverage.count(query, CoverageOptions(mode="lexical", collapse=False))
    assert result.total == len(expected) and result.cut is None and "every word" in result.matching


def test_the_export_lists_as_many_rows_as_the_total(coverage: Coverage, tmp_path: Path) -> None:
    for collapse in (True, False):
        options = CoverageOptions(cut=CUT, collapse=collapse)
        rows = list(coverage.passages(coverage.matches(QUERY, options)))
        assert len(rows) == coverage.count(QUERY, options).total


def test_deleted_articles_are_not_counted(tmp_path: Path) -> None:
    index = fake_index(tmp_path, records())
    delete_articles(index, ["r-2020-01-01", "r-undated-1"])
    with IndexReader(index) as opened:
        assert opened.passages < opened.row_days.size  # the deleted rows' vectors are still in the vector index
        result = Coverage(opened, FakeEncoder()).count(QUERY, CoverageOptions(cut=CUT, interval="week"))
    assert (result.total, result.undated) == (7, 1)
    assert {b.label: b.count for b in result.series if b.count}["2020-W01"] == 1


def test_a_range_making_too_many_buckets_is_refused_before_any_matching(
    coverage: Coverage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Coverage, "matches", lambda *_: pytest.fail("matched before refusing"))
    decades = CoverageOptions(start=datetime.date(2000, 1, 1), end=datetime.date(2020, 1, 1), interval="day")
    with pytest.raises(TooManyBuckets, match="use interval=week"):
        coverage.count(QUERY, decades)


@pytest.mark.parametrize("exact", [True, False], ids=["every-score", "widened-search"])
@pytest.mark.parametrize("cut", [0.2, 0.4, CUT, 0.7])
def test_hybrid_matches_equal_brute_force_over_every_passage_s_cosine_and_bm25_share(
    coverage: Coverage, reader: IndexReader, cut: float, exact: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not exact:
        monkeypatch.setattr(IndexReader, "every_score", lambda *_: None)
    w = coverage.config.lexical_weight
    cosines = reader.vectors(range(reader.passages)) @ FakeEncoder().queries([QUERY])[0]
    bm25 = dict(reader.search_lexical(QUERY, reader.passages))
    best = max(bm25.values())
    scores = {row: (1 - w) * cosines[row] + w * bm25.get(row, 0.0) / best for row in range(reader.passages)}
    expected = {reader.article_of(row) for row, score in scores.items() if score >= cut}
    found = coverage.matches(QUERY, CoverageOptions(cut=cut, collapse=False))
    assert {reader.article_of(m.row) for m in found} == expected
    assert all(
        m.score == pytest.approx(max(s for r, s in scores.items() if reader.article_of(r) == reader.article_of(m.row)))
        for m in found
    )


def test_counting_reads_each_match_s_source_from_memory_not_the_passage_store(
    coverage: Coverage, reader: IndexReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = CoverageOptions(cut=CUT, collapse=False)
    fetched = Counter(p.source for p, _ in coverage.passages(coverage.matches(QUERY, options)))
    monkeypatch.setattr(IndexReader, "fetch", lambda *_: pytest.fail("count fetched passages"))
    result = coverage.count(QUERY, options)
    assert dict(result.top_sources) == dict(fetched) and sum(fetched.values()) == result.total


def test_an_index_without_a_lexical_index_matches_hybrid_by_the_dense_cut(
    reader: IndexReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "lexical", None)
    config = CoverageConfig(dense_cut=CUT, dense_gap=1.0, hybrid_cut=0.99)
    result = Coverage(reader, FakeEncoder(), config).count(QUERY, CoverageOptions())
    assert result.total == len(rescue_ids()) and result.cut == CUT and "cosine >= 0.5" in result.matching


def expected_matches(reader: IndexReader, config: CoverageConfig) -> set[str]:
    """The hybrid bar worked out by brute force: every passage's score, every article's whole-article cosine."""
    w, n = config.lexical_weight, reader.passages
    vectors, query = reader.vectors(range(n)), FakeEncoder().queries([QUERY])[0]
    bm25 = dict(reader.search_lexical(QUERY, n))
    scores = [(1 - w) * float(vectors[row] @ query) + w * bm25.get(row, 0.0) / max(bm25.values()) for row in range(n)]
    articles = [reader.article_of(row) for row in range(n)]
    sums = {a: vectors[[r for r in range(n) if articles[r] == a]].sum(axis=0) for a in set(articles)}
    whole = {a: float(v @ query) / float(np.linalg.norm(v)) for a, v in sums.items()}
    best, best_whole = max(scores), max(whole.values())

    def passes(row: int) -> bool:
        near = scores[row] >= best - config.hybrid_gap
        wide = scores[row] >= best - config.hybrid_wide and whole[articles[row]] >= best_whole - config.hybrid_about
        return scores[row] >= config.hybrid_cut and (near or wide)

    return {articles[row] for row in range(n) if passes(row)}


BARS = [(1.0, 1.0, 0.0), (0.2, 0.2, 0.0), (0.03, 0.03, 0.0), (0.03, 0.3, 0.02), (0.03, 0.3, 1.0)]  # near, wide, about


@pytest.mark.parametrize(("near", "wide", "about"), BARS)
def test_the_bar_keeps_articles_near_the_best_score_or_whole_articles_near_the_best_and_filters_never_change_it(
    reader: IndexReader, near: float, wide: float, about: float
) -> None:
    config = CoverageConfig(hybrid_cut=0.3, hybrid_gap=near, hybrid_wide=wide, hybrid_about=about, depth=2)
    coverage = Coverage(reader, FakeEncoder(), config)
    found = {reader.article_of(m.row) for m in coverage.matches(QUERY, CoverageOptions(collapse=False))}
    assert found == expected_matches(reader, config)
    assert near > 0.1 or wide > near or len(found) < len(rescue_ids(collapse=False))
    valley = {reader.article_of(m.row) for m in coverage.matches(QUERY, CoverageOptions(sources=["Valley Post"]))}
    assert valley == {a for a in found if a in {"r-2020-01-01", "r-2020-12-28", "r-undated-1", "o-2020-12-29"}}


def test_the_band_adds_only_articles_that_as_a_whole_are_near_the_best_article(reader: IndexReader) -> None:
    """On this data the wide band admits more than the near gap, and a tight `about` admits fewer of them."""
    sets = [
        expected_matches(reader, CoverageConfig(hybrid_cut=0.3, hybrid_gap=0.03, hybrid_wide=wide, hybrid_about=about))
        for wide, about in ((0.03, 0.0), (0.3, 0.02), (0.3, 1.0))
    ]
    assert sets[0] < sets[1] < sets[2]


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_the_lowest_cut_matches_every_article(coverage: Coverage, reader: IndexReader, mode: str) -> None:
    unrelated = "zebra quantum violin orbit"  # some passages score below 0 for it
    found = coverage.matches(unrelated, CoverageOptions(mode=mode, cut=-1, collapse=False))  # type: ignore[arg-type]
    assert len(found) == reader.articles


def test_a_period_in_the_query_narrows_the_dates_and_its_words_are_not_matched(coverage: Coverage) -> None:
    january = {"start": datetime.date(2021, 1, 1), "end": datetime.date(2021, 1, 31), "interval": "day"}
    asked = coverage.count(f"{QUERY} in January 2021", CoverageOptions(cut=CUT, interval="day", interpret=True))
    filtered = coverage.count(QUERY, CoverageOptions(cut=CUT, **january))  # type: ignore[arg-type]
    assert {b.label: b.count for b in asked.series if b.count} == {"2021-01-03": 1, "2021-01-04": 1}
    assert (asked.series, asked.total, asked.undated) == (filtered.series, 2, 0) and len(asked.series) == 31
    assert "2021-01-01..2021-01-31" in asked.matching
    # a request's own range and the query's period both hold; "time" ignored, the period narrows nothing
    start, end = datetime.date(2021, 1, 4), datetime.date(2020, 12, 31)
    assert counted(coverage, f"{QUERY} in January 2021", start=start, interpret=True) == {"2021-01-04": 1}
    assert not coverage.matches(f"{QUERY} in January 2021", CoverageOptions(cut=CUT, end=end, interpret=True))
    unread = CoverageOptions(cut=-1, ignore=("time",), interpret=True)
    assert len(coverage.matches(f"{QUERY} in January 2021", unread)) == len(rescue_ids()) + 4  # every story


NAMES = ("Wire Echo", "Echo Wire")  # only the wire copy says "republished by Wire Echo"; no article "Echo Wire"


def test_a_name_in_the_query_must_appear_in_the_article_with_its_words_in_order(
    coverage: Coverage, reader: IndexReader
) -> None:
    every = CoverageOptions(cut=-1, collapse=False)  # every article passes the score: only the name decides
    ids = [{reader.article_of(m.row) for m in coverage.matches(f"{QUERY} by {name}", every)} for name in NAMES]
    # "Echo Wire": both words held, never in this order, so no article holds the name: it is not required
    assert ids == [{"r-2021-01-04-copy"}, {reader.article_of(row) for row in range(reader.passages)}]
    assert coverage.understood(f"{QUERY} by Echo Wire", every).phrases == ()
    interpreted = CoverageOptions(cut=-1, collapse=False, interpret=True)  # names are read with the period too
    assert coverage.matches(f"{QUERY} by Wire Echo", interpreted) == coverage.matches(f"{QUERY} by Wire Echo", every)
    ignored = coverage.matches(
        f"{QUERY} by Wire Echo", CoverageOptions(cut=-1, collapse=False, ignore=("Wire Echo",), interpret=True)
    )
    assert len(ignored) == reader.articles
    off = coverage.matches(f"{QUERY} by Wire Echo", CoverageOptions(cut=-1, collapse=False, names=False))
    assert len(off) == reader.articles
    assert '"Wire Echo"' in coverage.count(f"{QUERY} by Wire Echo", CoverageOptions(cut=-1, interpret=True)).matching
