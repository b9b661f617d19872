"""Calendar buckets for coverage series: day, ISO week (Monday start) and month; pure, no I/O."""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from index.errors import TooManyBuckets

Interval = Literal["day", "week", "month"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month")
DAYS_FOR_DAILY = 92  # a range up to about a quarter is drawn by day by default
DAYS_FOR_WEEKLY = 3 * 366  # ... up to three years by week, longer ones by month


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime.date  # the interval's first day (a Monday for weeks, the 1st for months)
    label: str  # 2024-01-05, 2024-W01 (ISO week), 2024-01
    count: int


def bucket_start(day: datetime.date, interval: Interval) -> datetime.date:
    """The first day of the interval holding `day`."""
    if interval == "week":
        return day - datetime.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def next_start(start: datetime.date, interval: Interval) -> datetime.date:
    """The first day of the interval after the one starting on `start`."""
    if interval == "day":
        return start + datetime.timedelta(days=1)
    if interval == "week":
        return start + datetime.timedelta(days=7)
    return (start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def label(start: datetime.date, interval: Interval) -> str:
    if interval == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if interval == "month":
        return start.strftime("%Y-%m")
    return start.isoformat()


def bucket_count(first: datetime.date, last: datetime.date, interval: Interval) -> int:
    """How many intervals cover first..last (inclusive)."""
    a, b = bucket_start(first, interval), bucket_start(last, interval)
    if interval == "day":
        return (b - a).days + 1
    if interval == "week":
        return (b - a).days // 7 + 1
    return (b.year - a.year) * 12 + b.month - a.month + 1


def default_interval(first: datetime.date, last: datetime.date) -> Interval:
    """Day for up to a quarter, week for up to three years, month beyond."""
    span = (last - first).days
    return "day" if span <= DAYS_FOR_DAILY else "week" if span <= DAYS_FOR_WEEKLY else "month"


def check_buckets(first: datetime.date, last: datetime.date, interval: Interval, limit: int) -> None:
    """TooManyBuckets, naming the finest interval that fits, when first..last makes more than `limit` buckets."""
    n = bucket_count(first, last, interval)
    if n <= limit:
        return
    fits = [i for i in INTERVALS if bucket_count(first, last, i) <= limit]
    advice = f"use interval={fits[0]}" if fits else "narrow the range with from/to"
    raise TooManyBuckets(f"interval={interval} over {first}..{last} makes {n} buckets (at most {limit}): {advice}")


def series(
    days: Iterable[datetime.date], first: datetime.date, last: datetime.date, interval: Interval
) -> list[Bucket]:
    """Counts of `days` per interval from first to last, empty intervals included (as zeros)."""
    counts = Counter(bucket_start(d, interval) for d in days)
    out: list[Bucket] = []
    start, end = bucket_start(first, interval), bucket_start(last, interval)
    while start <= end:
        out.append(Bucket(start, label(start, interval), counts.get(start, 0)))
        start = next_start(start, interval)
    return out
