"""Splitter: passages are exact slices of the article that cover all of it and fit the model with their title."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.articles import Article, Passage
from index.split import SplitSettings, TokenCounter, embedding_text, sentence_spans, split_article, title_budget
from tests.fakes import made_up_text, real_articles, whitespace_words, word_pieces

COUNTERS = [pytest.param(whitespace_words, id="whitespace-words"), pytest.param(word_pieces, id="word-pieces")]


def assert_good_split(
    article: Article, passages: Sequence[Passage], count: TokenCounter, settings: SplitSettings
) -> None:
    """The splitter's contract, checked on any article."""
    text = article.text
    assert [p.passage_id for p in passages] == [f"{article.article_id}#{n}" for n in range(len(passages))]
    assert [p.n for p in passages] == list(range(len(passages)))
    covered = bytearray(len(text))
    for p in passages:
        assert p.article_id == article.article_id
        assert 0 <= p.start < p.end <= len(text)
        assert p.text == text[p.start : p.end]
        assert p.text == p.text.strip(), "a passage neither starts nor ends with whitespace"
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)
    uncovered = [i for i, c in enumerate(text) if not covered[i] and not c.isspace()]
    assert uncovered == [], f"characters in no passage: {[text[i] for i in uncovered[:10]]}"
    title, title_tokens = title_budget(article.title, settings, count)
    assert title_tokens <= settings.max_title_tokens
    assert article.title.strip().startswith(title)
    for p in passages:
        assert count([p.text])[0] + title_tokens + 2 <= settings.max_tokens
        assert count([embedding_text(title, p.text)])[0] + 2 <= settings.max_tokens
    for a, b in itertools.pairwise(passages):
        assert a.start < b.start and a.end < b.end, "passages move forward"
        if b.start < a.end:
            assert count([text[b.start : a.end]])[0] <= settings.overlap_tokens


def article(text: str, title: str = "Harbour council votes on the ferry budget", article_id: str = "a1") -> Article:
    return Article(article_id, title, text, "2024-01-01")


# --- sentence_spans --------------------------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentences_end_at_full_stops_question_and_exclamation_marks() -> None:
    assert sentences("Is the bridge open? Not yet! Engineers expect it by May. Ferries run meanwhile.") == [
        "Is the bridge open?",
        "Not yet!",
        "Engineers expect it by May.",
        "Ferries run meanwhile.",
    ]


def test_titles_and_abbreviations_do_not_end_sentences() -> None:
    text = "Mr. Okafor met Dr. Lind at 9 a.m. Tuesday. The U.S. and the U.K. signed it. Gov. Ames agreed."
    assert sentences(text) == [
        "Mr. Okafor met Dr. Lind at 9 a.m. Tuesday.",
        "The U.S. and the U.K. signed it.",
        "Gov. Ames agreed.",
    ]


def test_initials_do_not_end_sentences() -> None:
    assert sentences("George W. Bush visited the harbour. J. K. Marlow wrote about it.") == [
        "George W. Bush visited the harbour.",
        "J. K. Marlow wrote about it.",
    ]


def test_closing_quotes_stay_with_their_sentence() -> None:
    text = (
        '"We will reopen the bridge," the mayor said. "The ferry is not enough." Then she left. He said \'Fine.\' Done.'
    )
    assert sentences(text) == [
        '"We will reopen the bridge," the mayor said.',
        '"The ferry is not enough."',
        "Then she left.",
        "He said 'Fine.'",
        "Done.",
    ]


def test_curly_quotes_and_brackets_close_a_sentence_too() -> None:
    assert sentences("She said “it is over.” (It was.) Next came the vote.") == [
        "She said “it is over.”",
        "(It was.)",
        "Next came the vote.",
    ]


def test_a_blank_line_ends_a_sentence_even_without_punctuation() -> None:
    assert sentences("Harbour reopens\n\nThe harbour reopened on Monday.\n  \nCrews cheered") == [
        "Harbour reopens",
        "The harbour reopened on Monday.",
        "Crews cheered",
    ]


def test_decimals_and_lowercase_continuations_are_not_boundaries() -> None:
    assert sentences("Fares rose 2.5 percent. in March, said the report. Then 3.1 in April.") == [
        "Fares rose 2.5 percent. in March, said the report.",
        "Then 3.1 in April.",
    ]


def test_an_abbreviation_before_a_blank_line_still_ends_the_sentence() -> None:
    assert sentences("The firm is Harbour Co.\n\nIts shares fell.") == ["The firm is Harbour Co.", "Its shares fell."]


def test_whitespace_only_text_has_no_sentences() -> None:
    assert sentence_spans(" \n\n\t ") == []


_PIECES = st.sampled_from(
    [
        "Mr.",
        "U.S.",
        "J.",
        "the",
        "ferry",
        "council.",
        "Vote!",
        "Why?",
        '"Yes,"',
        "said.",
        "\u201cNo.\u201d",
        "(Aside.)",
        "2.5",
        "e.g.",
        "Harbour",
        "A",
        ".",
        "...",
        "\u00e9t\u00e9",
        "x" * 70,
    ]
)
_SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\n \n", "\t"])


@st.composite
def news_like_text(draw: Any) -> str:
    parts = draw(st.lists(st.tuples(st.one_of(_PIECES, st.text(max_size=12)), _SEPARATORS), max_size=120))
    return "".join(p + s for p, s in parts)


@given(news_like_text())
def test_sentence_spans_are_ordered_trimmed_and_cover_every_non_space_character(text: str) -> None:
    spans = sentence_spans(text)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start
    covered = set()
    for s, e in spans:
        assert s < e and text[s:e] == text[s:e].strip()
        covered.update(range(s, e))
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())


# --- split_article with fake token counters --------------------------------------------------------------------


@pytest.mark.parametrize("count", COUNTERS)
@pytest.mark.parametrize("seed", range(4))
def test_made_up_articles_split_into_passages_that_keep_the_contract(count: TokenCounter, seed: int) -> None:
    settings = SplitSettings(max_tokens=80, overlap_tokens=20, max_title_tokens=16)
    a = article(made_up_text(seed, sentences=40))
    passages = split_article(a, count, settings)
    assert len(passages) > 2
    assert_good_split(a, passages, count, settings)


@given(
    text=news_like_text(),
    title=st.text(max_size=80),
    max_tokens=st.integers(40, 120),
    overlap=st.integers(0, 60),
    max_title=st.integers(1, 20),
    pieces=st.booleans(),
)
def test_any_text_splits_into_passages_that_keep_the_contract(
    text: str, title: str, max_tokens: int, overlap: int, max_title: int, pieces: bool
) -> None:
    count = word_pieces if pieces else whitespace_words
    settings = SplitSettings(max_tokens=max_tokens, overlap_tokens=overlap, max_title_tokens=max_title)
    a = article(text, title)
    assert_good_split(a, split_article(a, count, settings), count, settings)


@pytest.mark.parametrize("count", COUNTERS)
def test_an_overlong_sentence_is_cut_between_words_not_dropped(count: TokenCounter) -> None:
    words = made_up_text(11, sentences=40).replace(".", "").replace("\n\n", " ").split()
    text = "A short opening sentence. " + " ".join(words) + ". A short closing sentence."
    settings = SplitSettings(max_tokens=64, overlap_tokens=8, max_title_tokens=8)
    a = article(text)
    passages = split_article(a, count, settings)
    assert len(passages) >= 4
    assert_good_split(a, passages, count, settings)
    for p in passages:
        assert p.start == 0 or text[p.start - 1].isspace(), "cut between words"
        assert p.end == len(text) or text[p.end].isspace()


def test_a_giant_single_word_is_cut_into_pieces_not_dropped() -> None:
    giant = "".join(chr(ord("a") + i % 26) for i in range(3000))
    text = f"The table follows. {giant} That was the table."
    settings = SplitSettings(max_tokens=64, overlap_tokens=8, max_title_tokens=8)
    a = article(text)
    passages = split_article(a, word_pieces, settings)
    assert_good_split(a, passages, word_pieces, settings)  # so every letter of the giant word is in a passage
    start = text.index(giant)
    assert any(start < p.start < start + len(giant) for p in passages), "the word was cut inside"


def test_a_giant_title_is_cut_for_the_embedding_and_still_leaves_room_for_text() -> None:
    title = "Ferry " * 200
    settings = SplitSettings(max_tokens=64, overlap_tokens=8, max_title_tokens=10)
    cut, n = title_budget(title, settings, whitespace_words)
    assert n == 10 and cut == ("Ferry " * 10).strip()
    a = article(made_up_text(2, sentences=10), title=title)
    assert_good_split(a, split_article(a, whitespace_words, settings), whitespace_words, settings)


def test_a_short_article_is_one_passage_that_is_the_whole_text() -> None:
    a = article("  The harbour reopened on Monday.  ")
    [p] = split_article(a, whitespace_words)
    assert (p.passage_id, p.start, p.end, p.text) == ("a1#0", 2, 33, "The harbour reopened on Monday.")


def test_the_same_article_always_gets_the_same_passages_and_ids() -> None:
    a = article(made_up_text(5, sentences=50), article_id="stable-id")
    settings = SplitSettings(max_tokens=70, overlap_tokens=15, max_title_tokens=10)
    first = split_article(a, word_pieces, settings)
    assert first == split_article(dataclasses.replace(a), word_pieces, settings)
    assert len({p.passage_id for p in first}) == len(first)


def test_zero_overlap_gives_disjoint_passages_in_order() -> None:
    a = article(made_up_text(6, sentences=30))
    passages = split_article(a, whitespace_words, SplitSettings(max_tokens=60, overlap_tokens=0, max_title_tokens=8))
    assert all(x.end <= y.start for x, y in itertools.pairwise(passages))


def test_overlap_repeats_whole_sentences_from_the_previous_passage() -> None:
    a = article(made_up_text(8, sentences=30))
    settings = SplitSettings(max_tokens=90, overlap_tokens=30, max_title_tokens=8)
    passages = split_article(a, whitespace_words, settings)
    starts = {s for s, _ in sentence_spans(a.text)}
    overlapping = [(x, y) for x, y in itertools.pairwise(passages) if y.start < x.end]
    assert overlapping, "with room for 30 tokens of overlap some sentence is repeated"
    for _, y in overlapping:
        assert y.start in starts


def test_a_window_too_small_for_any_text_after_the_title_is_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        split_article(article("Some text."), whitespace_words, SplitSettings(max_tokens=20, max_title_tokens=10))


def test_an_untitled_passage_is_embedded_as_its_text_alone() -> None:
    assert embedding_text("", "Body.") == "Body."
    assert embedding_text("Title", "Body.") == "Title\nBody."


# --- the real tokenizer ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_articles_split_into_passages_the_real_tokenizer_reads_whole(shared_data: Path, real_encoder: Any) -> None:
    settings = SplitSettings(max_tokens=256)
    assert real_encoder.info.max_tokens >= settings.max_tokens
    count = real_encoder.count_tokens
    articles = real_articles(20)
    assert len(articles) == 20
    total = 0
    for a in articles:
        passages = split_article(a, count, settings)
        assert passages
        assert_good_split(a, passages, count, settings)
        title, _ = title_budget(a.title, settings, count)
        lengths = [
            len(ids) for ids in real_encoder.tokenizer([embedding_text(title, p.text) for p in passages])["input_ids"]
        ]
        assert max(lengths) <= 256
        total += len(passages)
    assert total > 20


@pytest.mark.slow
def test_pathological_text_fits_the_real_tokenizer_too(real_encoder: Any) -> None:
    settings = SplitSettings(max_tokens=256)
    count = real_encoder.count_tokens
    run_on = " ".join(made_up_text(3, sentences=60).replace(".", ",").split())  # one 600-word sentence
    url = "https://harbour-gazette.example/" + "/".join(f"section-{i}/item_{i * 7}" for i in range(400))
    for text in (
        run_on,
        f"The link was {url} and nothing else.",
        "Zwölf Boxkämpfer jagen Viktor quer über den Sylter Deich. " * 80,
    ):
        a = article(text, title="A title " * 40)
        passages = split_article(a, count, settings)
        assert_good_split(a, passages, count, settings)
        title, _ = title_budget(a.title, settings, count)
        assert (
            max(
                len(ids)
                for ids in real_encoder.tokenizer([embedding_text(title, p.text) for p in passages])["input_ids"]
            )
            <= 256
        )


def test_a_title_with_surrounding_whitespace_is_cut_from_its_stripped_form() -> None:
    settings = SplitSettings(max_tokens=40, overlap_tokens=0, max_title_tokens=1)
    title, tokens = title_budget("\r0000000 ", settings, word_pieces)
    assert "0000000".startswith(title) and title and tokens <= 1
