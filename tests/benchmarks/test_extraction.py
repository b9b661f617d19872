"""The extraction benchmark: its scoring rule (the article-extraction-benchmark's), and the chosen extractor's bars."""

from __future__ import annotations

import pytest

from benchmarks.extraction import DATA, extractors, page_score, precision_recall_f1, read_pages, score
from tests.fakes import need_shared_data


def test_a_perfect_extraction_scores_one_and_an_empty_one_zero() -> None:
    body = "The council voted on Tuesday to close the old harbour bridge for repairs."
    assert precision_recall_f1([page_score(body, body)]) == (1.0, 1.0, 1.0)
    assert precision_recall_f1([page_score(body, "")]) == (0.0, 0.0, 0.0)


def test_shingles_are_counted_as_multisets_and_normalised_per_page() -> None:
    body = "one two three four five"  # shingles: (1 2 3 4), (2 3 4 5)
    # Extracted twice over: (1 2 3 4) again counts as a false positive, as do the 3 shingles across the seam.
    tp, fp, fn = page_score(body, body + " one two three four")
    assert (tp, fp, fn) == pytest.approx((2 / 6, 4 / 6, 0.0))
    # Per-page precision and recall are averaged, and F1 comes from the averages (not the mean of F1s).
    p, r, f1 = precision_recall_f1([(0.5, 0.5, 0.0), (1.0, 0.0, 0.0)])
    assert (p, r) == (0.75, 1.0) and f1 == pytest.approx(2 * 0.75 / 1.75)


@pytest.mark.slow
def test_the_chosen_extractor_clears_the_bars_on_the_real_pages() -> None:
    need_shared_data(DATA / "ground-truth.json")
    pages, truth = read_pages(DATA)
    row = score("dateline", extractors()["dateline"], pages, truth)
    assert row["f1"] >= 0.95 and row["precision"] >= 0.93
    assert row["titles"] >= 0.95 * len(pages)
    assert row["pages_per_s"] >= 25
