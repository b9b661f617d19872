"""Search options: how an HTTP request becomes one search's options."""

from __future__ import annotations

from typing import Any


def test_a_date_range_turns_the_default_recency_off() -> None:
    from search.options import TUNED, SearchOptions
    from search.schemas import SearchRequest

    def recency(request: dict[str, Any]) -> float:
        asked = SearchOptions.from_request(SearchRequest.model_validate(request)).recency
        return TUNED.recency if asked is None else asked  # None: the searcher's tuned recency

    assert recency({"q": "ferry"}) > 0
    assert recency({"q": "ferry", "from": "2024-01-01"}) == 0
    assert recency({"q": "ferry", "to": "2024-01-01", "recency": 1.5}) == 1.5
