"""Highlights: query words marked by stem, rare words weighing more, sentences ranked."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search import highlight as hl


def test_highlight_marks_stemmed_words_and_ranks_sentences() -> None:
    text = "The ferries stopped. Strikes by ferry crews closed the harbour on Monday. Nothing else happened."
    stems = hl.query_stems("Why did the ferry crews strike?", lambda _: 1, 100)
    marks = hl.highlight(text, stems)
    assert [text[a:b] for a, b in marks.terms] == ["ferries", "Strikes", "ferry", "crews"]
    best = marks.sentences[0]
    assert text[best.start : best.end] == "Strikes by ferry crews closed the harbour on Monday."
    assert best.score == pytest.approx(3 / 5)  # ferry, crew, strike of why/did/ferry/crew/strike (equal IDF)
    assert all(text[s.start : s.end] != "Nothing else happened." for s in marks.sentences)


def test_rare_words_weigh_more() -> None:
    df = {"ferri": 50, "strike": 2}
    stems = hl.query_stems("ferry strike", lambda s: df.get(s, 0), 100)
    marks = hl.highlight("A ferry sailed. A strike began.", stems)
    assert marks.sentences[0].start == 16


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), query=st.text(min_size=1, max_size=40))
def test_highlight_spans_are_inside_the_text(text: str, query: str) -> None:
    marks = hl.highlight(text, hl.query_stems(query, lambda _: 1, 10))
    for a, b in marks.terms:
        assert 0 <= a < b <= len(text) and re.fullmatch(r"[^\W_]+", text[a:b])
    for s in marks.sentences:
        assert 0 <= s.start < s.end <= len(text) and 0 < s.score <= 1


def test_common_words_count_but_are_not_marked() -> None:
    df = {"did": 40, "ferri": 2, "strike": 3}
    stems = hl.query_stems("did the ferry strike", lambda s: df.get(s, 0), 100)
    marked = hl.marked_stems(stems, 100)
    assert marked == {"ferri", "strike"}
    text = "What did they say? The ferry strike did end."
    marks = hl.highlight(text, stems, marked=marked)
    assert [text[a:b] for a, b in marks.terms] == ["ferry", "strike"]
    assert text[marks.sentences[0].start : marks.sentences[0].end] == "The ferry strike did end."
    assert hl.marked_stems({"did": 0.1}, 100) == {"did"}  # nothing rarer: the common word is marked
