"""The lexical index's query side: which words of a query are searched, and the stems a query adds."""

from __future__ import annotations

from pathlib import Path


def test_stopwords_are_dropped_from_a_query_unless_nothing_else_is_left() -> None:
    from index.lexical import query_terms

    assert query_terms("Why did THE crews walk out of the harbour?") == "why did crews walk out harbour"
    assert query_terms("to be or not to be") == "to be or not to be"


def test_expansion_stems_join_the_query_at_their_boost(tmp_path: Path) -> None:
    from index.lexical import LexicalIndex, Proximity, build

    build(tmp_path, [(0, "", "Russia suspended the treaty"), (1, "", "a suspension of play"), (2, "", "ferry strike")])
    index = LexicalIndex(tmp_path)
    rows = lambda query: [row for row, _ in index.search(query, 10)]  # noqa: E731
    assert rows(Proximity("suspension")) == [1]
    # the stem as indexed ("suspend"), never analysed again; a zero boost adds nothing
    assert rows(Proximity("suspension", expansions=(("suspend", 0.5),))) == [1, 0]
    assert rows(Proximity("suspension", expansions=(("suspend", 0.0),))) == [1]
    assert rows(Proximity("suspension", expansions=(("suspend", 5.0),))) == [0, 1]
