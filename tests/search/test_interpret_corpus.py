"""Issue 20's example on the whole RealTimeQA corpus: the treaty's name read as a name, in four ways of asking."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.options import SearchOptions
from search.searcher import Searcher

WHOLE = Path(os.environ.get("DATELINE_WHOLE_INDEX", "/work/indexes/rtqa-all"))
QUERIES = [
    "New START suspension",
    "New START treaty suspended",
    "Putin suspends New START",
    "why did Russia suspend New START?",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whole() -> Iterator[Searcher]:
    if not (WHOLE / "current").exists():
        pytest.skip(f"the whole-corpus index is not at {WHOLE} (set DATELINE_WHOLE_INDEX)")
    searcher = Searcher.open(WHOLE)
    yield searcher
    searcher.close()


@pytest.mark.parametrize("query", QUERIES)
def test_each_top_three_hit_shows_a_passage_on_the_treaty_s_suspension(whole: Searcher, query: str) -> None:
    hits = whole.search(query, SearchOptions(k=3)).hits
    assert len(hits) == 3
    for hit in hits:
        shown = f"{hit.passage.title}\n{hit.passage.text}"
        assert "New START" in shown, hit.passage.title
        assert re.search(r"suspen|paus", shown, re.IGNORECASE), hit.passage.title


@pytest.mark.parametrize("query", QUERIES)
def test_the_first_hit_is_an_article_on_the_treaty_not_a_live_blog_item(whole: Searcher, query: str) -> None:
    """Keyword feedback, focus and aboutness (docs/queries.md) put an article whose headline names the treaty first;
    a live blog ("VA poised to elect first Black woman to Congress") with an item on it was first before."""
    first = whole.search(query, SearchOptions(k=1)).hits[0]
    assert re.search(r"new start|treaty", first.passage.title, re.IGNORECASE), first.passage.title


def test_without_interpretation_the_example_fails_as_the_issue_says(whole: Searcher) -> None:
    hits = whole.search(QUERIES[0], SearchOptions(k=3, interpret=False)).hits
    assert not all("New START" in f"{h.passage.title}\n{h.passage.text}" for h in hits)
