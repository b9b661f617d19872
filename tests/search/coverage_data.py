"""Made-up coverage data: known dates (across ISO year boundaries), sources, a wire copy and undated articles."""

from __future__ import annotations

from typing import Any

from tests.fakes import made_up_text

QUERY = "glacier climbers rescued after avalanche on the north ridge"
_RESCUE = (
    "Glacier climbers rescued after avalanche on the north ridge. Mountain guides reached the climbers at dawn "
    "and carried them down the glacier on sledges. The avalanche buried the north ridge route under deep snow, "
    "and rescuers dug for hours before the helicopter could land near the ridge. {extra}"
)
_OTHER = (
    "The harbour council voted on the ferry budget late on {day}. Traders at the market said flour and wheat "
    "prices rose again this winter, and the bakery on the quay closed early. Teachers at the district school "
    "asked the council for heating money before the festival. {extra}"
)
# (id, date or None, source, about the rescue, ISO week the date falls in)
PLAN: list[tuple[str, str | None, str, bool]] = [
    ("r-2019-12-29", "2019-12-29", "Alpine Courier", True),  # a Sunday: ISO 2019-W52
    ("r-2019-12-30", "2019-12-30", "Alpine Courier", True),  # a Monday in ISO week 2020-W01
    ("r-2020-01-01", "2020-01-01", "Valley Post", True),  # 2020-W01 too
    ("r-2020-12-28", "2020-12-28", "Valley Post", True),  # a Monday in ISO week 2020-W53
    ("r-2021-01-03", "2021-01-03", "Alpine Courier", True),  # a Sunday, still 2020-W53
    ("r-2021-01-04", "2021-01-04", "Summit News", True),  # 2021-W01
    ("r-2021-02-15", "2021-02-15", "Summit News", True),
    ("r-undated-1", None, "Valley Post", True),
    ("r-undated-2", None, "Alpine Courier", True),
    ("o-2019-12-30", "2019-12-30", "Alpine Courier", False),
    ("o-2020-12-29", "2020-12-29", "Valley Post", False),
    ("o-2021-01-04", "2021-01-04", "Summit News", False),
    ("o-undated", None, "Summit News", False),
]
COPY = ("r-2021-01-04-copy", "2021-01-05", "Wire Echo")  # a near-duplicate re-print of r-2021-01-04


def records() -> list[dict[str, Any]]:
    """The plan as JSONL-ready records, with the wire copy last."""
    out: list[dict[str, Any]] = []
    for n, (article_id, date, source, rescue) in enumerate(PLAN):
        extra = made_up_text(500 + n, sentences=6)  # distinct tails: no two reports are near-duplicates
        text = (_RESCUE if rescue else _OTHER).format(extra=extra, day=f"day {n}")
        record: dict[str, Any] = {"id": article_id, "title": f"Report {n}", "text": text, "source": source}
        record["url"] = f"https://news.example/{article_id}"
        if date:
            record["date"] = date
        out.append(record)
    original = next(r for r in out if r["id"] == "r-2021-01-04")
    copy_id, date, source = COPY
    text = original["text"] + f" This story first ran in {original['source']}; republished by {source}."
    copy = {**original, "id": copy_id, "date": date, "source": source, "text": text}
    out.append({**copy, "url": f"https://echo.example/{copy_id}"})
    return out


def rescue_ids(collapse: bool = True) -> set[str]:
    ids = {article_id for article_id, _, _, rescue in PLAN if rescue}
    return ids if collapse else ids | {COPY[0]}
