"""Judged news-archive queries (issue 20): graded nDCG@10 per split and group, the judged share, pooling to judge.

    python benchmarks/queries.py [--index /work/indexes/rtqa-all] [--modes hybrid,lexical,dense] [--interpret both]
    python benchmarks/queries.py --pool-unjudged FILE [--modes hybrid] [--depth 10]

The queries, their categories, periods and dev/test split are benchmarks/judged/queries.jsonl; the judgments
(0 not relevant, 1 partly, 2 about it) benchmarks/judged/qrels.tsv; how both were made benchmarks/judged/README.md.
A query with a relative time ("last week") is asked as of its `as_of` day, every other as of today, as a
person would type it. A mode ending `-period` adds the query's gold period as a hard from/to filter (no
recency inside it, as the HTTP API does); a query without a period runs it unfiltered. Unjudged articles
count as not relevant; the `judged@10` column is the share of top-10 hits that were judged, so a reader sees
when a configuration reaches articles nobody judged (then `--pool-unjudged` lists them to judge, blind).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import DataError, format_table, index_facts, read_qrels, write_json

if TYPE_CHECKING:
    from search.options import SearchOptions
    from search.searcher import Searcher

JUDGED = Path(__file__).resolve().parent / "judged"
QUERIES = JUDGED / "queries.jsonl"
QRELS = JUDGED / "qrels.tsv"
INDEX = Path("/work/indexes/rtqa-all")
TOP = 10
TIMES = ("none", "absolute", "relative")


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    query: str
    split: str  # "dev" or "test", fixed before anything was tuned
    names: bool  # holds a name, multi-word name or acronym
    time: str  # "none", "absolute" or "relative"
    period: tuple[datetime.date, datetime.date] | None  # the period a person means, inclusive
    as_of: datetime.date | None  # the day a relative query is asked on

    @property
    def group(self) -> str:
        """'names-or-time' or 'others': the two groups issue 20 scores apart."""
        return "names-or-time" if self.names or self.time != "none" else "others"


def _day(value: str, where: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {value!r} is not a YYYY-MM-DD day") from None


def parse_query(rec: dict[str, Any], where: str) -> Query:
    """One queries.jsonl record, checked: a time query has a period, a relative one an as_of day."""
    try:
        time, period, as_of = rec["time"], rec.get("period"), rec.get("as_of")
        q = Query(
            id=str(rec["id"]),
            query=str(rec["query"]),
            split=str(rec["split"]),
            names=bool(rec["names"]),
            time=str(time),
            period=(_day(period["from"], where), _day(period["to"], where)) if period else None,
            as_of=_day(as_of, where) if as_of else None,
        )
    except (KeyError, TypeError) as exc:
        raise DataError(f"{where}: record lacks or misshapes {exc}") from None
    if q.split not in ("dev", "test") or q.time not in TIMES:
        raise DataError(f"{where}: split must be dev or test, time one of {', '.join(TIMES)}")
    if (q.time == "none") != (q.period is None) or (q.time == "relative") != (q.as_of is not None):
        raise DataError(f"{where}: a time query needs a period, and only a relative one an as_of day")
    if q.period and q.period[0] > q.period[1]:
        raise DataError(f"{where}: period from {q.period[0]} is after to {q.period[1]}")
    return q


def read_judged(path: Path = QUERIES) -> list[Query]:
    if not path.is_file():
        raise DataError(f"{path} not found")
    out: list[Query] = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{line_no}: not JSON ({exc})") from None
            out.append(parse_query(rec, f"{path}:{line_no}"))
    if len({q.id for q in out}) != len(out):
        raise DataError(f"{path}: query ids repeat")
    return out


def split_by_hash(queries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The split rule the set was made with: (text, stratum) pairs -> text -> split. Within each stratum (names x
    time), texts in order of sha1(text) alternate dev, test, dev, ... (balanced by category, fixed by text)."""
    strata: dict[str, list[str]] = {}
    for text, stratum in queries:
        strata.setdefault(stratum, []).append(text)
    out: dict[str, str] = {}
    for texts in strata.values():
        for i, text in enumerate(sorted(texts, key=lambda t: hashlib.sha1(t.encode("utf-8")).hexdigest())):
            out[text] = "dev" if i % 2 == 0 else "test"
    return out


def ndcg(ranked: Sequence[str], grades: dict[str, int], k: int = TOP) -> float:
    """Graded nDCG@k with gain = grade (0/1/2); unjudged articles gain 0; the ideal ranks every judged grade."""
    dcg = sum(grades.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal_gains = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(ideal_gains))
    return dcg / ideal if ideal else 0.0


def judged_share(ranked: Sequence[str], grades: dict[str, int], k: int = TOP) -> float | None:
    """The share of the top-k hits that were judged (None for an empty page)."""
    top = ranked[:k]
    return sum(doc in grades for doc in top) / len(top) if top else None


def mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(sum(kept) / len(kept), 4) if kept else None


def rows_by_group(queries: Sequence[Query], scores: dict[str, tuple[float, float | None]]) -> list[list[Any]]:
    """[split, group, queries, nDCG@10, judged@10] for each split (dev, test, all) x group (all, names-or-time,
    others, and the categories names / absolute time / relative time)."""
    groups: list[tuple[str, Any]] = [
        ("all", lambda q: True),
        ("names-or-time", lambda q: q.group == "names-or-time"),
        ("others", lambda q: q.group == "others"),
        ("names", lambda q: q.names),
        ("time:absolute", lambda q: q.time == "absolute"),
        ("time:relative", lambda q: q.time == "relative"),
    ]
    rows = []
    for split in ("dev", "test", "all"):
        for name, keep in groups:
            chosen = [q for q in queries if q.id in scores and (split == "all" or q.split == split) and keep(q)]
            rows.append(
                [
                    split,
                    name,
                    len(chosen),
                    mean([scores[q.id][0] for q in chosen]),
                    mean([scores[q.id][1] for q in chosen]),
                ]
            )
    return rows


@dataclass(frozen=True, slots=True)
class Config:
    """One configuration to run: a mode, optionally with the query's period as a hard filter, and interpret."""

    mode: str  # dense, lexical or hybrid
    period_filter: bool = False
    interpret: bool | None = None  # None: the searcher's default (or no such option)

    @classmethod
    def parse(cls, name: str, interpret: bool | None = None) -> Config:
        mode, _, suffix = name.partition("-")
        if mode not in ("dense", "lexical", "hybrid") or suffix not in ("", "period"):
            raise ValueError(f"unknown mode {name!r}: use dense, lexical or hybrid, optionally with -period")
        return cls(mode, suffix == "period", interpret)

    @property
    def name(self) -> str:
        tail = "" if self.interpret is None else f" interpret={'on' if self.interpret else 'off'}"
        return f"{self.mode}{'-period' if self.period_filter else ''}{tail}"

    def options(self, q: Query, k: int, ranking: dict[str, Any]) -> SearchOptions:
        """The SearchOptions for `q`: its as_of day, the period filter if asked, the given ranking options."""
        from search.options import SearchOptions

        extra = dict(ranking)
        if self.period_filter and q.period:
            extra.update(start=q.period[0], end=q.period[1])
            extra.setdefault("recency", 0.0)  # a from/to range gets no default recency (SearchOptions.from_request)
        if self.interpret is not None and has_interpret():
            extra["interpret"] = self.interpret
        return SearchOptions(k=k, mode=self.mode, as_of=q.as_of, highlight=False, **extra)  # type: ignore[arg-type]


def has_interpret() -> bool:
    """Whether this checkout's SearchOptions has the `interpret` switch (issue 20's interpreter)."""
    from search.options import SearchOptions

    return "interpret" in {f.name for f in dataclasses.fields(SearchOptions)}


def ranked(searcher: Searcher, q: Query, config: Config, k: int, ranking: dict[str, Any]) -> list[Any]:
    return searcher.search(q.query, config.options(q, k, ranking)).hits


def score(searcher: Searcher, queries: Sequence[Query], qrels: dict[str, dict[str, int]], config: Config,
          ranking: dict[str, Any]) -> dict[str, tuple[float, float | None]]:  # fmt: skip
    """qid -> (nDCG@10, judged share of the top 10) for one configuration."""
    out = {}
    for q in queries:
        docs = [h.passage.article_id for h in ranked(searcher, q, config, TOP, ranking)]
        grades = qrels.get(q.id, {})
        out[q.id] = (round(ndcg(docs, grades), 4), judged_share(docs, grades))
    return out


def unjudged(searcher: Searcher, queries: Sequence[Query], qrels: dict[str, dict[str, int]],
             configs: Sequence[Config], depth: int, ranking: dict[str, Any]) -> list[dict[str, Any]]:  # fmt: skip
    """The articles in the top `depth` of any configuration that nobody judged for that query, each once, with its
    title and the best passage shown (to read and judge, never to commit); ordered by query, then article id, so
    the reader cannot tell which configuration found it."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for q in queries:
        for config in configs:
            for hit in ranked(searcher, q, config, depth, ranking):
                p = hit.passage
                if p.article_id in qrels.get(q.id, {}) or (q.id, p.article_id) in found:
                    continue
                found[(q.id, p.article_id)] = {
                    "qid": q.id,
                    "query": q.query,
                    "as_of": q.as_of.isoformat() if q.as_of else None,
                    "doc_id": p.article_id,
                    "date": p.date,
                    "source": p.source,
                    "title": p.title,
                    "passage": p.text,
                }
    return [found[key] for key in sorted(found)]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, default=INDEX, help=f"index folder (default {INDEX})")
    p.add_argument("--queries", type=Path, default=QUERIES, help="the judged queries (JSONL)")
    p.add_argument("--qrels", type=Path, default=QRELS, help="the judgments (qid, doc_id, relevance)")
    p.add_argument("--modes", default="hybrid,lexical,dense", help="comma-separated; each may end -period")
    p.add_argument("--split", choices=("dev", "test", "all"), default="all", help="the queries to run")
    p.add_argument("--interpret", choices=("default", "on", "off", "both"), default="default",
                   help="pass interpret= through SearchOptions (skipped when it has no such field)")  # fmt: skip
    p.add_argument("--fusion", choices=("rrf", "minmax", "zscore"), default=None)
    p.add_argument("--dense-weight", type=float, default=None)
    p.add_argument("--recency", type=float, default=None)
    p.add_argument("--half-life-days", type=float, default=None)
    p.add_argument("--per-query", action="store_true", help="also print each query's nDCG@10")
    p.add_argument("--pool-unjudged", type=Path, default=None, metavar="FILE",
                   help="write the unjudged articles of the modes' top --depth to FILE (JSONL) and stop")  # fmt: skip
    p.add_argument("--depth", type=int, default=TOP, help="hits per query to pool (--pool-unjudged)")
    p.add_argument("--rewrites", type=Path, default=None, metavar="TSV",
                   help="ask each query as reworded in TSV (qid<TAB>text: the judge's run, to pool)")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="JSON report: a file or folder (default benchmarks/out/)")
    return p.parse_args(argv)


def reworded(queries: list[Query], path: Path) -> list[Query]:
    """The queries with their text replaced by the rewording `path` gives for their id (qid<TAB>text a line)."""
    if not path.is_file():
        raise DataError(f"{path} not found")
    lines = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if any(len(parts) != 2 for parts in lines):
        raise DataError(f"{path}: every line is qid<TAB>text")
    text = {qid: words.strip() for qid, words in lines}
    return [dataclasses.replace(q, query=text.get(q.id, q.query)) for q in queries]


def configs_of(args: argparse.Namespace) -> list[Config]:
    switch = {"default": [None], "on": [True], "off": [False], "both": [False, True]}[args.interpret]
    if args.interpret != "default" and not has_interpret():
        print("note: SearchOptions has no `interpret` field in this checkout; running without it", file=sys.stderr)
        switch = [None]
    return [Config.parse(m.strip(), i) for m in args.modes.split(",") for i in switch]


def report(args: argparse.Namespace, queries: list[Query], results: dict[str, Any]) -> None:
    headers = ["config", "split", "group", "queries", "nDCG@10", "judged@10"]
    rows = [[name, *row] for name, r in results.items() for row in r["rows"]]
    print(format_table(headers, rows))
    if args.per_query:
        names = list(results)
        per = [[q.id, q.split, q.group, *(results[n]["per_query"][q.id][0] for n in names)] for q in queries]
        print(format_table(["qid", "split", "group", *names], per))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        queries = [q for q in read_judged(args.queries) if args.split in ("all", q.split)]
        if args.rewrites is not None:
            queries = reworded(queries, args.rewrites)
        qrels = read_qrels(args.qrels) if args.qrels.is_file() else {}
        configs = configs_of(args)
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from index.errors import StoreError
    from search.searcher import Searcher

    ranking = {
        key: getattr(args, key) for key in ("fusion", "dense_weight", "recency", "half_life_days")
        if getattr(args, key) is not None
    }  # fmt: skip
    try:
        searcher = Searcher.open(args.index, query_encoder=os.environ.get("DATELINE_QUERY_ENCODER", "auto"))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.pool_unjudged is not None:
            found = unjudged(searcher, queries, qrels, configs, args.depth, ranking)
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in found)
            args.pool_unjudged.write_text(text, encoding="utf-8")
            print(f"{len(found)} unjudged articles in {len({r['qid'] for r in found})} queries -> {args.pool_unjudged}")
            return 0
        results = {}
        for config in configs:
            per_query = score(searcher, queries, qrels, config, ranking)
            results[config.name] = {"rows": rows_by_group(queries, per_query), "per_query": per_query}
        facts = index_facts(searcher, args.index)
    finally:
        searcher.close()
    ranked_by = ranking or "tuned"
    print(f"index {args.index}: {facts['articles']} articles; {len(queries)} judged queries; ranking {ranked_by}")
    report(args, queries, results)
    out = {"benchmark": "queries", **facts, "ranking": ranking, "results": results}
    print(f"report: {write_json(out, args.out, 'queries')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
