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


def test_every_tuned_value_is_documented_with_its_value_in_the_tuning_history() -> None:
    """docs/tuning-history.md's table names each RankingConfig field with the value the code has."""
    import dataclasses
    import re
    from pathlib import Path

    from search.options import TUNED

    table = (Path(__file__).resolve().parents[2] / "docs" / "tuning-history.md").read_text(encoding="utf-8")
    documented: dict[str, str] = {}
    for names, values in re.findall(r"^\| (`[^|]+`) \| ([^|]+) \|", table, flags=re.M):
        for name, value in zip(re.findall(r"`(\w+)`", names), values.split(","), strict=True):
            documented[name] = value.strip().strip("`")
    assert set(documented) == {f.name for f in dataclasses.fields(TUNED)}
    for name, value in documented.items():
        assert str(getattr(TUNED, name)) in (value, f"{value}.0"), name


def test_a_request_s_every_option_reaches_the_search_options() -> None:
    """Each SearchRequest field lands in SearchOptions (q is the query itself; from/to/source are renamed)."""
    import dataclasses
    import datetime

    from search.options import SearchOptions
    from search.schemas import SearchRequest

    request = SearchRequest.model_validate(
        {"q": "ferry", "k": 7, "mode": "lexical", "group": "passage", "fusion": "rrf", "rerank": True,
         "from": "2024-01-01", "to": "2024-02-01", "source": ["A"], "as_of": "2024-01-15", "recency": 1.0,
         "half_life_days": 9, "offset": 3, "sort": "date", "collapse": False, "article": "x", "highlight": False}
    )  # fmt: skip
    options = SearchOptions.from_request(request)
    assert options == SearchOptions(
        k=7, mode="lexical", group="passage", fusion="rrf", rerank=True, start=datetime.date(2024, 1, 1),
        end=datetime.date(2024, 2, 1), sources=["A"], as_of=datetime.date(2024, 1, 15), recency=1.0,
        half_life_days=9, offset=3, sort="date", collapse=False, article="x", highlight=False,
    )  # fmt: skip
    unset = {f.name for f in dataclasses.fields(SearchOptions) if getattr(options, f.name) is None}
    assert unset == {"dense_weight", "depth"}  # not HTTP options: the tuned value (or a benchmark's)
