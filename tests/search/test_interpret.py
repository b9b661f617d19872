"""interpret: time expressions resolved to periods, phrases and names found, nothing else read, no input breaks it."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.lexical import Proximity, proximity_terms, query_terms
from search.interpret import interpret, phrases_of
from search.timewords import find_period

D = datetime.date
QUIZ_DAY = D(2023, 3, 3)  # a Friday


@pytest.mark.parametrize(
    ("query", "text", "start", "end"),
    [
        ("Liz Truss resignation October 2022", "October 2022", D(2022, 10, 1), D(2022, 10, 31)),
        ("Fed hike in June 2022", "June 2022", D(2022, 6, 1), D(2022, 6, 30)),
        ("eclipse April 8, 2024", "April 8, 2024", D(2024, 4, 8), D(2024, 4, 8)),
        ("eclipse 8 April 2024", "8 April 2024", D(2024, 4, 8), D(2024, 4, 8)),
        ("report 2023-02-21", "2023-02-21", D(2023, 2, 21), D(2023, 2, 21)),
        ("report 2/21/2023", "2/21/2023", D(2023, 2, 21), D(2023, 2, 21)),
        ("report 21/2/2023", "21/2/2023", D(2023, 2, 21), D(2023, 2, 21)),
        ("spring 2023 layoffs", "spring 2023", D(2023, 3, 1), D(2023, 5, 31)),
        ("winter 2023 storms", "winter 2023", D(2022, 12, 1), D(2023, 2, 28)),
        ("Christmas 2022 storm", "Christmas 2022", D(2022, 12, 24), D(2022, 12, 26)),
        ("Thanksgiving 2022 travel", "Thanksgiving 2022", D(2022, 11, 24), D(2022, 11, 24)),
        ("bank earnings Q3 2022", "Q3 2022", D(2022, 7, 1), D(2022, 9, 30)),
        ("midterm results 2022", "2022", D(2022, 1, 1), D(2022, 12, 31)),
        ("Oscars 2024 winners", "2024", D(2024, 1, 1), D(2024, 12, 31)),
        ("border news last week", "last week", D(2023, 2, 20), D(2023, 2, 26)),
        ("what happened this week", "this week", D(2023, 2, 27), D(2023, 3, 5)),
        ("rate hike yesterday", "yesterday", D(2023, 3, 2), D(2023, 3, 2)),
        ("layoffs this month", "this month", D(2023, 3, 1), D(2023, 3, 31)),
        ("layoffs last month", "last month", D(2023, 2, 1), D(2023, 2, 28)),
        ("books banned over the last year", "the last year", D(2022, 3, 3), D(2023, 3, 3)),
        ("shooting last weekend", "last weekend", D(2023, 2, 25), D(2023, 2, 26)),
        ("who retired on Tuesday?", "on Tuesday", D(2023, 2, 28), D(2023, 2, 28)),
        ("unveiled on March 7", "March 7", D(2023, 3, 7), D(2023, 3, 7)),
    ],
)
def test_time_expressions_resolve_to_their_days(query: str, text: str, start: D, end: D) -> None:
    found = find_period(query, QUIZ_DAY)
    assert found is not None
    assert (found.text, found.start, found.end) == (text, start, end)


@pytest.mark.parametrize(
    "query",
    [
        "February 30 2023",
        "13/13/2023",
        "killed more than 2000 people",
        "COVID-19 vaccines",
        "Super Bowl LVII halftime show",
        "it may rain",
        "a march on Washington",
        "price of $2023",
        "Title 42 ends",
    ],
)
def test_impossible_dates_and_numbers_are_not_time(query: str) -> None:
    assert find_period(query, QUIZ_DAY) is None


def test_relative_time_counts_back_from_the_day_given() -> None:
    assert interpret("news yesterday", D(2022, 6, 16)).time.start == D(2022, 6, 15)  # type: ignore[union-attr]


def test_the_time_words_leave_the_text_the_retrievers_read() -> None:
    understood = interpret("Liz Truss resignation in October 2022", QUIZ_DAY)
    assert understood.text == "Liz Truss resignation"
    assert understood.as_json()["time"] == {"text": "October 2022", "from": "2022-10-01", "to": "2022-10-31"}


def test_a_query_that_is_only_time_keeps_its_words() -> None:
    assert interpret("October 2022", QUIZ_DAY).text == "October 2022"


@pytest.mark.parametrize(
    ("query", "phrases"),
    [
        ("New START suspension", ["New START"]),
        ("why did Russia suspend New START?", ["New START"]),
        ("Silicon Valley Bank collapse", ["Silicon Valley Bank"]),
        ('"value them both" amendment Kansas', ["value them both"]),
        ("Bank of America earnings", ["Bank of America"]),
        ("Which NFL star announced his retirement?", []),
        ("Putin suspends treaty", []),
        ("LIZ TRUSS RESIGNS AS PRIME MINISTER", []),
        ("railroad workers strike", []),
    ],
)
def test_quoted_phrases_and_capitalised_names_are_phrases(query: str, phrases: list[str]) -> None:
    assert phrases_of(query) == phrases


def test_ignored_parts_are_left_out() -> None:
    understood = interpret("New START suspension February 2023", QUIZ_DAY, ignore=("time", "New START"))
    assert understood.time is None and understood.phrases == ()
    assert understood.text == "New START suspension February 2023"


def test_proximity_queries_are_plain_words_and_boosted_phrases() -> None:
    query = Proximity('New START "AND" title:x', ("New START",), phrase_boost=2.0, pair_boost=0.5, pair_slop=1)
    assert (
        proximity_terms(query)
        == 'new start title x "new start"~0^2 "new start"~1^0.5 "start title"~1^0.5 "title x"~1^0.5'
    )
    assert proximity_terms(Proximity("the")) == query_terms("the")


@given(st.text(max_size=200))
def test_any_string_is_interpreted_without_error(query: str) -> None:
    understood = interpret(query, QUIZ_DAY)
    assert understood.query == query
    if understood.time:
        assert understood.time.start <= understood.time.end
        assert understood.time.text in query
    assert all(word in query for phrase in understood.phrases for word in phrase.split())


@given(
    st.lists(st.sampled_from(["February", "30", "13/13/2023", "2023", "last", "week", "on", "May", "the", " ", ","]))
)
def test_date_like_word_salad_never_raises(words: list[str]) -> None:
    interpret(" ".join(words), QUIZ_DAY)
