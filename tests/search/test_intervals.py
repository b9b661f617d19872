"""Calendar buckets: ISO weeks start on Monday and cross years as ISO 8601 says; months and days are exact."""

from __future__ import annotations

import datetime
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.errors import TooManyBuckets
from search import intervals
from search.intervals import bucket_count, bucket_start, check_buckets, label, series

D = datetime.date


@pytest.mark.parametrize(
    ("day", "week"),
    [
        (D(2020, 12, 31), "2020-W53"),  # 2020 has 53 ISO weeks
        (D(2021, 1, 3), "2020-W53"),  # a Sunday in January still in the last year's week 53
        (D(2021, 1, 4), "2021-W01"),
        (D(2019, 12, 30), "2020-W01"),  # a December Monday opening next year's week 1
        (D(2015, 12, 31), "2015-W53"),
        (D(2023, 1, 1), "2022-W52"),
    ],
)
def test_iso_week_labels_across_year_boundaries(day: datetime.date, week: str) -> None:
    start = bucket_start(day, "week")
    assert start.weekday() == 0 and label(start, "week") == week


def test_months_and_days_step_across_the_new_year() -> None:
    months = series([D(2023, 12, 31), D(2024, 1, 1), D(2024, 1, 31)], D(2023, 11, 5), D(2024, 2, 1), "month")
    assert [(b.label, b.count) for b in months] == [("2023-11", 0), ("2023-12", 1), ("2024-01", 2), ("2024-02", 0)]
    days = series([D(2023, 12, 31), D(2023, 12, 31)], D(2023, 12, 30), D(2024, 1, 1), "day")
    assert [(b.label, b.count) for b in days] == [("2023-12-30", 0), ("2023-12-31", 2), ("2024-01-01", 0)]


@given(
    st.lists(st.dates(D(1990, 1, 1), D(2030, 12, 31)), min_size=1, max_size=40),
    st.sampled_from(intervals.INTERVALS),
)
def test_a_series_counts_every_day_once_in_the_bucket_holding_it(
    days: list[datetime.date], interval: intervals.Interval
) -> None:
    first, last = min(days), max(days)
    out = series(days, first, last, interval)
    assert sum(b.count for b in out) == len(days) and len(out) == bucket_count(first, last, interval)
    for a, b in itertools.pairwise(out):
        assert a.start < b.start and bucket_start(b.start - datetime.timedelta(days=1), interval) == a.start


def test_the_default_interval_is_day_then_week_then_month() -> None:
    assert intervals.default_interval(D(2024, 1, 1), D(2024, 3, 31)) == "day"
    assert intervals.default_interval(D(2024, 1, 1), D(2025, 6, 1)) == "week"
    assert intervals.default_interval(D(2000, 1, 1), D(2024, 1, 1)) == "month"


def test_too_many_buckets_name_the_finest_interval_that_fits() -> None:
    with pytest.raises(TooManyBuckets, match="use interval=week"):
        check_buckets(D(2000, 1, 1), D(2020, 1, 1), "day", 2000)
    with pytest.raises(TooManyBuckets, match="use interval=month"):
        check_buckets(D(1900, 1, 1), D(2000, 1, 1), "week", 2000)
    check_buckets(D(1900, 1, 1), D(2000, 1, 1), "month", 2000)
