"""Ranking functions: fusion, grouping, the passage shown, the lede and recency priors; each row once, best first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search import ranking

ranked_lists = st.lists(st.tuples(st.integers(0, 40), st.floats(-50, 50)), max_size=30).map(
    lambda pairs: sorted({row: score for row, score in pairs}.items(), key=lambda x: -x[1])
)


@given(ranked_lists, ranked_lists)
def test_rrf_ranks_every_candidate_once_best_first(a: ranking.Ranked, b: ranking.Ranked) -> None:
    fused = ranking.rrf([a, b])
    assert sorted(row for row, _ in fused) == sorted({row for row, _ in a} | {row for row, _ in b})
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)


@given(ranked_lists)
def test_rrf_of_one_list_keeps_its_order(a: ranking.Ranked) -> None:
    assert [row for row, _ in ranking.rrf([a])] == [row for row, _ in a]


@pytest.mark.parametrize("method", ["minmax", "zscore"])
@given(a=ranked_lists, b=ranked_lists)
def test_normalised_fusion_ranks_every_candidate_once_best_first(
    method: str, a: ranking.Ranked, b: ranking.Ranked
) -> None:
    fused = ranking.normalised([a, b], [0.5, 0.5], method)
    assert sorted(row for row, _ in fused) == sorted({row for row, _ in a} | {row for row, _ in b})
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)
    if method == "minmax":
        assert all(-1e-9 <= s <= 1 + 1e-9 for s in scores)


def test_a_row_first_in_both_lists_is_first_after_fusion() -> None:
    a, b = [(7, 0.9), (1, 0.5), (2, 0.1)], [(7, 12.0), (3, 4.0)]
    assert ranking.rrf([a, b])[0][0] == 7
    assert ranking.normalised([a, b], [0.5, 0.5], "minmax")[0][0] == 7


@given(ranked_lists)
def test_grouping_keeps_each_articles_best_row_in_order_and_counts_the_rest(ranked: ranking.Ranked) -> None:
    def article(row: int) -> str:
        return f"a{row % 5}"

    grouped = ranking.group_best(ranked, article)
    assert [article(row) for row, _, _ in grouped] == list(dict.fromkeys(article(row) for row, _ in ranked))
    assert sum(1 + more for _, _, more in grouped) == len(ranked)
    first = {}
    for row, score in ranked:
        first.setdefault(article(row), (row, score))
    assert [(row, score) for row, score, _ in grouped] == list(first.values())


def test_the_passage_shown_for_an_article_is_its_best_by_the_choice_score_and_ranks_stay() -> None:
    article = {1: "a", 2: "a", 3: "b", 4: "b", 5: "c"}.__getitem__
    fused = [(1, 0.9), (3, 0.8), (2, 0.7), (5, 0.6), (4, 0.5)]
    grouped = ranking.group_best(fused, article)
    picked = ranking.pick_passages(grouped, fused, article, {2: 0.9, 1: 0.1, 3: 0.5, 4: 0.4})
    assert [(score, more) for _, score, more in picked] == [(score, more) for _, score, more in grouped]
    assert [row for row, _, _ in picked] == [2, 3, 5]  # a: 2 beats 1; b: 3 beats 4; c: unscored, kept


def test_the_lede_prior_favours_an_articles_earlier_passage_only_in_a_near_tie() -> None:
    article = {1: "a", 2: "a", 3: "b", 4: "b"}.__getitem__
    place = {1: 0, 2: 3, 3: 0, 4: 1}.__getitem__  # rows 1 and 3 are their articles' ledes
    fused = [(2, 0.9), (4, 0.8), (1, 0.7), (3, 0.6)]
    grouped = ranking.group_best(fused, article)
    choice = {2: 0.60, 1: 0.50, 4: 0.90, 3: 0.30}  # a: a near tie; b: the later passage is clearly better
    prior = ranking.lede_prior(choice, place, 0.2)
    assert prior == pytest.approx({2: 0.65, 1: 0.70, 4: 1.00, 3: 0.50})
    assert [row for row, _, _ in ranking.pick_passages(grouped, fused, article, prior)] == [1, 4]
    assert ranking.lede_prior(choice, place, 0.0) == choice


@pytest.mark.parametrize("method", ["rrf", "minmax", "zscore"])
@given(a=ranked_lists, b=ranked_lists, w=st.floats(0, 1))
def test_fusion_does_not_depend_on_the_order_of_its_lists(
    method: str, a: ranking.Ranked, b: ranking.Ranked, w: float
) -> None:
    def fuse(lists: list[ranking.Ranked], weights: tuple[float, float]) -> ranking.Ranked:
        return ranking.rrf(lists, weights) if method == "rrf" else ranking.normalised(lists, weights, method)

    one, other = fuse([a, b], (w, 1 - w)), fuse([b, a], (1 - w, w))
    assert [row for row, _ in one] == [row for row, _ in other]
    assert [s for _, s in one] == pytest.approx([s for _, s in other])


@pytest.mark.parametrize("method", ["rrf", "minmax", "zscore"])
def test_fusion_of_disjoint_and_empty_lists(method: str) -> None:
    def fuse(lists: list[ranking.Ranked]) -> ranking.Ranked:
        return ranking.rrf(lists, (0.5, 0.5)) if method == "rrf" else ranking.normalised(lists, (0.5, 0.5), method)

    a, b = [(1, 3.0), (2, 2.0)], [(8, 9.0), (9, 1.0)]
    assert {row for row, _ in fuse([a, b])} == {1, 2, 8, 9}
    assert [row for row, _ in fuse([a, []])] == [1, 2]
    assert [row for row, _ in fuse([[], b])] == [8, 9]
    assert fuse([[], []]) == []


def test_the_prior_spread_is_how_far_the_recency_prior_can_move_candidates_apart() -> None:
    ages = {1: 0.0, 2: 30.0, 3: 3000.0, 4: None, 5: -5.0}
    spread = ranking.prior_spread
    assert spread([1, 2, 3], ages.get, 2.0, 30.0) == pytest.approx(2.0 * (1.0 - 0.5**100))
    assert spread([1, 2], ages.get, 2.0, 30.0) == pytest.approx(1.0)  # a day and a half-life apart
    assert spread([1, 5], ages.get, 2.0, 30.0) == 0.0  # dated after the reference day counts as that day
    assert spread([3, 4], ages.get, 2.0, 30.0) < 1e-20  # long past, or undated: no prior left
    assert spread([1, 3], ages.get, 0.0, 30.0) == spread([], ages.get, 2.0, 30.0) == 0.0


def test_recency_puts_the_newest_of_equal_candidates_first() -> None:
    grouped = [(1, 0.5, 0), (2, 0.5, 0), (3, 0.5, 0), (4, 0.9, 0)]
    ages = {1: 400.0, 2: 3.0, 3: None, 4: 800.0}
    boosted = ranking.recency_boost(grouped, ages.get, weight=1.0, half_life=30.0)
    order = [row for row, _, _ in boosted]
    assert order[:2] == [4, 2]  # much more relevant stays first; of the equals, the 3-day-old one leads
    assert set(order[2:]) == {1, 3}  # 400 days old is worth next to nothing, undated nothing
    assert ranking.recency_boost(grouped, ages.get, weight=0.0, half_life=30.0) == grouped


@given(
    st.lists(st.tuples(st.floats(-5, 5), st.one_of(st.none(), st.floats(-100, 5000))), min_size=1, max_size=30),
    st.floats(0, 3),
    st.floats(1, 365),
)
def test_recency_boost_keeps_every_candidate_once_best_first(
    items: list[tuple[float, float | None]], weight: float, half_life: float
) -> None:
    grouped = sorted(((row, score, 0) for row, (score, _) in enumerate(items)), key=lambda x: -x[1])  # best first
    ages = {row: age for row, (_, age) in enumerate(items)}
    boosted = ranking.recency_boost(grouped, ages.get, weight, half_life)
    assert sorted(row for row, _, _ in boosted) == list(range(len(items)))
    scores = [s for _, s, _ in boosted]
    assert scores == sorted(scores, reverse=True)


def test_focus_boost_lifts_an_article_most_of_whose_passages_matched_over_a_live_blog() -> None:
    # row 1: a 40-passage live blog, one passage matched, best score; row 2: a 6-passage article, 5 matched.
    grouped = [(1, 1.0, 0), (2, 0.9, 4), (3, 0.0, 0)]
    passages = {1: 40, 2: 6, 3: 1}
    assert [row for row, _, _ in ranking.focus_boost(grouped, passages.__getitem__, 0.2)] == [2, 1, 3]
    assert ranking.focus_boost(grouped, passages.__getitem__, 0.0) == grouped


def test_focus_boost_does_not_lift_a_one_passage_article_on_its_one_match() -> None:
    grouped = [(1, 1.0, 2), (2, 0.7, 0)]  # a 3-passage article, all matched; a one-passage article
    passages = {1: 3, 2: 1}
    assert [row for row, _, _ in ranking.focus_boost(grouped, passages.__getitem__, 0.2)] == [1, 2]


def test_focus_boost_counts_the_passages_matched_of_gives_when_given() -> None:
    grouped = [(1, 1.0, 0), (2, 0.9, 4)]  # row 2's article has 5 candidate passages, none holding the names
    passages = {1: 3, 2: 6}
    named = {1: 1, 2: 0}
    boosted = ranking.focus_boost(grouped, passages.__getitem__, 0.2, named.__getitem__)
    assert [row for row, _, _ in boosted] == [1, 2]


def test_about_boost_lifts_the_article_about_the_query_over_a_live_blog_and_keeps_the_rest_below() -> None:
    # row 1: a live blog (best passage, articles' mean cosine 0.2); row 2: an article about it (0.6); row 3 beyond depth
    grouped = [(1, 1.0, 0), (2, 0.9, 3), (3, 0.5, 0)]
    mean_cosine = {1: 0.2, 2: 0.6, 3: 0.9}
    boosted = ranking.about_boost(grouped, mean_cosine.__getitem__, 0.5, depth=2)
    assert [row for row, _, _ in boosted] == [2, 1, 3]
    assert boosted[0][1] == pytest.approx(1.4) and boosted[2] == (3, 0.5, 0)
    assert ranking.about_boost(grouped, mean_cosine.__getitem__, 0.0, depth=2) == grouped


def test_about_boost_gives_an_article_without_the_query_s_names_the_least() -> None:
    grouped = [(1, 1.0, 0), (2, 0.9, 0), (3, 0.8, 0)]
    mean_cosine = {1: 0.2, 2: 0.9, 3: 0.5}  # row 2: about another sense of the words, not holding the names
    boosted = ranking.about_boost(grouped, mean_cosine.__getitem__, 0.5, 3, eligible=lambda row: row != 2)
    assert [row for row, _, _ in boosted] == [3, 1, 2]
