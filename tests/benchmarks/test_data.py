"""The benchmarks' data helpers: a quiz question's day from its id."""

from __future__ import annotations

from datetime import date as D

from benchmarks.data import asked_on


def test_a_quiz_question_is_asked_on_the_day_its_id_names() -> None:
    assert asked_on("20230224_3") == D(2023, 2, 24)
    assert asked_on("e-20230224_3") == D(2023, 2, 24)
    assert asked_on("no-date") is None
