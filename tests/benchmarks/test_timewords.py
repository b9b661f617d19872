"""The time tagger's benchmark: issue 20's bar on the committed judged periods and time-free questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.data import DATA_DIR, QUESTIONS
from benchmarks.timewords import JUDGED_QUERIES, TIME_FREE, judged_periods, main


def test_every_judged_period_is_read_as_a_day_range() -> None:
    periods = judged_periods(JUDGED_QUERIES)
    assert len(periods) >= 20
    assert all(start <= end for _, _, _, (start, end) in periods)


def test_the_rules_find_nine_in_ten_periods_and_mark_few_time_free_questions(tmp_path: Path) -> None:
    if not (DATA_DIR / f"{QUESTIONS}.queries.tsv").is_file():
        pytest.skip(f"RealTimeQA's questions are not at {DATA_DIR} (the time-free questions' text)")
    out = tmp_path / "timewords.json"
    assert main(["--parsers", "rules", "--out", str(out), "--time-free", str(TIME_FREE)]) == 0
    rules = json.loads(out.read_text())["taggers"]["rules"]
    assert rules["dev"]["found"] >= 0.9
    assert rules["dev"]["time_free"] >= 60 and rules["dev"]["marked"] <= 0.02
