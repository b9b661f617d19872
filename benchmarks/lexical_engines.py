"""Lexical (BM25) engines compared on an index's passages: build time, size, query latency and quality.

    python benchmarks/lexical_engines.py --index DIR [--engines tantivy,fts5,bm25s] [--out FILE.json]

Engines, each built from the same passages (article title + passage text, read from the index's passage store)
into a temporary folder, then searched from disk, single-threaded (fair on a small machine):

    tantivy   what Dateline ships: index.lexical.build and LexicalIndex (en_stem, title + text as one field)
    tantivy-articles
              the same over whole articles, one document each (title + the text rebuilt from its passages)
    bm25s-articles
              bm25s over whole articles with Pyserini's defaults (k1=0.9, b=0.4): the plain BM25 baseline the
              data's README quotes (about nDCG@10 0.50, R@100 0.92)
    fts5      SQLite FTS5, contentless table over (title, text), porter tokenizer; the query's words OR-ed,
              each quoted so none is read as syntax; ORDER BY bm25(fts) LIMIT k
    bm25s     bm25s (numpy backend) with English stopwords and the PyStemmer English stemmer, k1=1.2, b=0.75
              as the other two use; needs `pip install -e .[bench]`

Latency: RealTimeQA's questions (question2article) one at a time, k=100, after a warm-up of 10 queries; the
time includes each engine's own query parsing. Quality is the engine alone: `--depth` passages per question
collapse to articles by best passage; nDCG@10 and recall@100 over the questions whose gold article is in the
index, with only indexed gold articles relevant (quality.py's --only-indexed).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import data

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
DEEP = 100  # recall cut-off (articles), as benchmarks/quality.py
WARMUP = 10
LATENCY_K = 100
_WORDS = re.compile(r"\w+")

Doc = tuple[int, str, str]  # (row, title, text)


class Engine(Protocol):
    name: str
    unit: str

    def build(self, path: Path, docs: Sequence[Doc]) -> None: ...
    def open(self, path: Path) -> None: ...
    def search(self, query: str, k: int) -> list[tuple[int, float]]: ...  # (row, score) best first


class Tantivy:
    name = "tantivy"
    unit = "passage"  # what a document is: a passage, or a whole article (keyed by its first passage's row)

    def build(self, path: Path, docs: Sequence[Doc]) -> None:
        from index import lexical

        lexical.build(path, docs, threads=1)

    def open(self, path: Path) -> None:
        from index.lexical import LexicalIndex

        self.index = LexicalIndex(path)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        return self.index.search(query, k)


class TantivyArticles(Tantivy):
    """The same engine over whole articles, one document each."""

    name = "tantivy-articles"
    unit = "article"


class Fts5:
    name = "fts5"
    unit = "passage"
    FILE = "fts.sqlite3"

    def build(self, path: Path, docs: Sequence[Doc]) -> None:
        path.mkdir(parents=True)
        db = sqlite3.connect(path / self.FILE)
        # contentless: like the tantivy index, it holds no copy of the text (the passage store has it)
        db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE VIRTUAL TABLE fts USING fts5(title, text, content='', tokenize='porter unicode61');"
        )
        db.executemany("INSERT INTO fts(rowid, title, text) VALUES (?,?,?)", docs)
        db.execute("INSERT INTO fts(fts) VALUES ('optimize')")  # merge the b-trees, as tantivy merges segments
        db.commit()
        db.close()

    def open(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path / self.FILE}?mode=ro", uri=True)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        words = _WORDS.findall(query.lower())
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)  # \w+ holds no quote, so quoting is enough
        rows = self.db.execute(
            "SELECT rowid, bm25(fts) FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT ?", (match, k)
        ).fetchall()
        return [(int(row), -float(score)) for row, score in rows]  # bm25() is lower-is-better


class Bm25s:
    name = "bm25s"
    unit = "passage"
    k1, b = 1.2, 0.75

    def __init__(self) -> None:
        import bm25s
        import Stemmer

        self.bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")

    def _tokens(self, texts: list[str], ids: bool) -> Any:
        return self.bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, return_ids=ids, show_progress=False)

    def build(self, path: Path, docs: Sequence[Doc]) -> None:
        retriever = self.bm25s.BM25(k1=self.k1, b=self.b, backend="numpy")
        retriever.index(self._tokens([f"{title}\n{text}" for _, title, text in docs], ids=True), show_progress=False)
        retriever.save(str(path), show_progress=False)  # named .npy and .json files, no pickle, no corpus
        (path / "rows.txt").write_text("\n".join(str(row) for row, _, _ in docs))

    def open(self, path: Path) -> None:
        self.retriever = self.bm25s.BM25.load(str(path))
        self.rows = [int(r) for r in (path / "rows.txt").read_text().split()]

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        found = self.retriever.retrieve(
            self._tokens([query], ids=False),
            k=min(k, len(self.rows)),
            n_threads=0,
            show_progress=False,
            backend_selection="numpy",
        )
        # bm25s always returns k documents; the ones scoring 0 match no query word
        return [
            (self.rows[int(i)], float(s)) for i, s in zip(found.documents[0], found.scores[0], strict=True) if s > 0
        ]


class Bm25sArticles(Bm25s):
    """Pyserini's default BM25 (k1 0.9, b 0.4) over whole articles: a reference run, as anserini would do it."""

    name = "bm25s-articles"
    unit = "article"
    k1, b = 0.9, 0.4


FACTORIES: dict[str, Callable[[], Engine]] = {
    "tantivy": Tantivy,
    "fts5": Fts5,
    "bm25s": Bm25s,
    "tantivy-articles": TantivyArticles,
    "bm25s-articles": Bm25sArticles,
}
ENGINES = tuple(FACTORIES)


def articles(passages: Sequence[Any]) -> list[Doc]:
    """(first row, title, text) per article, its text rebuilt from its passages in order without their overlap
    (a passage's text is the article's text from `start` to `end`)."""
    out: list[Doc] = []
    ordered = sorted(passages, key=lambda p: (p.article_id, p.n))
    for _, group in itertools.groupby(ordered, key=lambda p: p.article_id):
        parts = list(group)
        end, text = parts[0].start, []
        for p in parts:
            text.append(p.text[max(0, end - p.start) :])
            end = max(end, p.end)
        out.append((parts[0].row, parts[0].title, "".join(text)))
    return out


def folder_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 2)


def latency(engine: Engine, queries: Sequence[str], repeat: int) -> dict[str, Any]:
    for query in queries[:WARMUP]:
        engine.search(query, LATENCY_K)
    took = []
    for _ in range(repeat):
        for query in queries:
            t0 = time.perf_counter()
            engine.search(query, LATENCY_K)
            took.append((time.perf_counter() - t0) * 1e3)
    return data.summarise(took)


def quality(
    engine: Engine, judged: dict[str, tuple[str, set[str]]], article_of: dict[int, str], depth: int
) -> dict[str, Any]:
    """Article-level nDCG@10 and recall@100 for `judged` (qid -> (query, relevant indexed articles))."""
    from benchmarks.quality import TOP, mean, ndcg, recall  # imports numpy: only after main sets the threads

    per_query: dict[str, dict[str, float]] = {}
    for qid, (query, relevant) in judged.items():
        articles = list(dict.fromkeys(article_of[row] for row, _ in engine.search(query, depth)))
        per_query[qid] = {
            "ndcg@10": round(ndcg(articles, relevant, TOP), 4),
            "recall@100": recall(articles, relevant, DEEP),
        }
    scored = list(per_query.values())
    return {
        "queries": len(scored),
        "ndcg@10": mean([q["ndcg@10"] for q in scored]),
        "recall@100": mean([q["recall@100"] for q in scored]),
        "per_query": per_query,
    }


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True, help="index folder (holding current/)")
    p.add_argument("--data", type=Path, default=data.DATA_DIR, help=f"the realtimeqa folder (default {data.DATA_DIR})")
    p.add_argument("--out", type=Path, default=None, help="JSON report (default benchmarks/out/lexical_engines-*.json)")
    p.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, from {', '.join(ENGINES)}")
    p.add_argument("--depth", type=int, default=1000, help="passages per question for quality, before collapsing")
    p.add_argument("--repeat", type=int, default=1, help="timed passes over the questions")
    args = p.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := sorted(set(args.engines) - set(ENGINES)):
        p.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    if args.depth < DEEP:
        p.error(f"--depth must be at least {DEEP} (recall@{DEEP} needs that many passages)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")  # before numpy loads: one thread per engine
    from index.errors import StoreError
    from index.reader import IndexReader

    try:
        queries = data.read_queries(args.data / f"{data.QUESTIONS}.queries.tsv")
        qrels = data.read_qrels(args.data / f"{data.QUESTIONS}.qrels.tsv")
        reader = IndexReader(args.index)
    except (data.DataError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    passages = list(reader.iter_passages())
    docs = [(p.row, p.title, p.text) for p in passages]
    article_of = {p_row: reader.article_of(p_row) for p_row, _, _ in docs}
    judged: dict[str, tuple[str, set[str]]] = {}
    for qid, query in queries.items():
        indexed = {doc for doc, rel in qrels.get(qid, {}).items() if rel > 0 and reader.has_article(doc)}
        if indexed:
            judged[qid] = (query, indexed)
    generation, manifest = reader.generation, reader.manifest
    reader.close()

    engines: list[Engine] = []
    for name in args.engines:
        try:
            engines.append(FACTORIES[name]())
        except ImportError as exc:
            print(f"skipping {name}: {exc}; install it with: pip install -e '.[bench]'", file=sys.stderr)
    if not engines:
        print("error: no engine left to compare", file=sys.stderr)
        return 2

    whole = articles(passages) if any(e.unit == "article" for e in engines) else []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dateline-lexical-") as tmp:
        for engine in engines:
            print(f"{engine.name}: building and searching", file=sys.stderr)
            path = Path(tmp) / engine.name
            t0 = time.perf_counter()
            engine.build(path, whole if engine.unit == "article" else docs)
            build_s = time.perf_counter() - t0
            engine.open(path)
            results[engine.name] = {
                "build_s": round(build_s, 2),
                "disk_mb": folder_mb(path),
                "latency_ms": latency(engine, list(queries.values()), args.repeat),
                "quality": quality(engine, judged, article_of, args.depth),
            }

    rows = [
        [name, r["build_s"], r["disk_mb"], *(r["latency_ms"][p] for p in ("p50", "p95", "p99")),
         r["quality"]["ndcg@10"], r["quality"]["recall@100"]]
        for name, r in results.items()
    ]  # fmt: skip
    print(
        f"index {args.index}: {len(docs)} passages, {manifest.counts.articles} articles; "
        f"{len(queries)} questions timed (k={LATENCY_K}), {len(judged)} with indexed gold scored "
        f"(depth {args.depth} passages)"
    )
    print(data.format_table(["engine", "build s", "disk MB", "p50 ms", "p95 ms", "p99 ms", "nDCG@10", "R@100"], rows))
    report = {
        "benchmark": "lexical_engines",
        "index": str(args.index),
        "generation": generation.name,
        "passages": len(docs),
        "articles": manifest.counts.articles,
        "questions_timed": len(queries),
        "questions_scored": len(judged),
        "latency_k": LATENCY_K,
        "warmup": WARMUP,
        "repeat": args.repeat,
        "depth": args.depth,
        "only_indexed": True,
        "versions": {
            "tantivy": version("tantivy"),
            "sqlite": sqlite3.sqlite_version,
            "bm25s": version("bm25s"),
            "PyStemmer": version("PyStemmer"),
            "numpy": version("numpy"),
        },
        "engines": results,
    }
    print(f"(wrote {data.write_json(report, args.out, 'lexical_engines')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
