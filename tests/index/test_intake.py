"""Intake: the one loop that counts records, keeps the first article of an id and words every problem."""

from __future__ import annotations

from index.articles import Article, Problem
from index.intake import (
    SHOW_PROBLEMS,
    Intake,
    IntakeReport,
    problem_at,
    records_from_fields,
    show_problems,
    skip_reasons,
)


def article(article_id: str, where: str) -> Article:
    return Article(article_id, "A title", "Some text.", where=where)


def test_the_first_article_of_an_id_is_kept_and_each_repeat_is_a_problem_where_it_was_read() -> None:
    records = [article("a", "in/x.jsonl:1"), article("b", "in/x.jsonl:2"), article("a", "in/x.jsonl:3")]
    intake = Intake()
    kept = list(intake.accept(records))
    assert [a.where for a in kept] == ["in/x.jsonl:1", "in/x.jsonl:2"]
    assert intake.tally.read == 3
    assert intake.problems == [Problem("in/x.jsonl", 3, "duplicate article id 'a': the first was kept")]
    assert str(intake.problems[0]) == "in/x.jsonl:3: skipped: duplicate article id 'a': the first was kept"


def test_a_duplicate_says_what_the_caller_does_with_it() -> None:
    intake = Intake(duplicate=" in this batch")
    assert list(intake.accept([article("a", "request:0"), article("a", "request:1")])) == [article("a", "")]
    assert intake.problems == [Problem("request", 1, "duplicate article id 'a' in this batch")]


def test_problems_count_as_read_only_when_they_skip_a_record_and_all_are_kept_in_order() -> None:
    skipped = Problem("x.csv", 4, "invalid JSON")
    warning = Problem("x.csv", 5, "unreadable date 'soon' (use YYYY-MM-DD); indexed without a date", skipped=False)
    report = IntakeReport()
    intake = Intake(report)
    kept = list(intake.accept([skipped, warning, article("a", "x.csv:5")]))
    assert [a.article_id for a in kept] == ["a"]
    assert (report.read, report.problems) == (2, [skipped, warning])


def test_an_article_with_no_text_is_reported_where_it_was_read() -> None:
    intake = Intake()
    intake.no_text(article("gone", "dir/file:with:colons.jsonl:12"))
    assert intake.problems == [Problem("dir/file:with:colons.jsonl", 12, "article 'gone' has no text")]
    assert problem_at(article("x", ""), "why") == Problem("", 0, "why")


def test_the_tally_may_be_any_report_with_read_and_problems() -> None:
    from index.build import BuildReport
    from index.update import UpdateReport

    for report in (BuildReport(), UpdateReport()):
        list(Intake(report).accept([article("a", "f:1"), article("a", "f:2")]))
        assert report.read == 2 and report.skipped == 1


def test_request_fields_are_located_by_their_index_in_the_batch() -> None:
    items = [{"id": "a", "text": "One."}, {"id": "b"}, {"id": "c", "text": "Three.", "date": "soon"}]
    records = list(records_from_fields(items))
    assert [r.where if isinstance(r, Article) else (r.path, r.line) for r in records] == [
        "request:0",
        ("request", 1),
        ("request", 2),
        "request:2",
    ]


def test_the_first_problems_are_shown_one_per_line_and_the_rest_counted() -> None:
    lines: list[str] = []
    show = show_problems(lines.append)
    intake = Intake(show=show)
    list(intake.accept(Problem("f", i, "invalid JSON") for i in range(SHOW_PROBLEMS + 5)))
    assert len(intake.problems) == SHOW_PROBLEMS + 5
    assert lines[:2] == ["f:0: skipped: invalid JSON", "f:1: skipped: invalid JSON"]
    assert lines[SHOW_PROBLEMS:] == ["... more problems are counted in the summary"]


def test_skip_reasons_count_skipped_records_by_the_kind_of_reason() -> None:
    problems = [
        Problem("f", 1, "invalid JSON (line 1 column 2)"),
        Problem("f", 2, "invalid JSON (line 3 column 4)"),
        Problem("f", 3, "duplicate article id 'a': the first was kept"),
        Problem("f", 4, "unreadable date 'x'; indexed without a date", skipped=False),
    ]
    assert skip_reasons(problems) == [("invalid JSON", 2), ("duplicate article id 'a'", 1)]
