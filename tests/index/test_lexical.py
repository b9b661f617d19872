"""The lexical index's query side: which words of a query are searched."""

from __future__ import annotations


def test_stopwords_are_dropped_from_a_query_unless_nothing_else_is_left() -> None:
    from index.lexical import query_terms

    assert query_terms("Why did THE crews walk out of the harbour?") == "why did crews walk out harbour"
    assert query_terms("to be or not to be") == "to be or not to be"
