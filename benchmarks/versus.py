"""Dateline against txtai, Haystack and Pyserini on the same archive and questions: quality and query latency.

    python benchmarks/versus.py export --index DIR --out EXPORT      # passages, vectors, questions (our venv)
    python benchmarks/versus.py dateline --index DIR --export EXPORT --out RUNS
    <rival venv>/bin/python benchmarks/rivals/<rival>_run.py --export EXPORT --out RUNS
    python benchmarks/versus.py score --export EXPORT RUNS/*.run    # one table, every run scored alike

`make bench-versus INDEX=DIR` does all of it, each rival in its own virtual environment (.venv-rivals/<name>,
torch's CPU build first) so none of them changes Dateline's.

What is held equal, so the table compares engines and not inputs:
- the documents: the index's own passages (article title + passage text) or, for the whole-article runs, each
  article's title and text;
- the vectors: the index's passage vectors and the same model's fp32 query vectors, given to every dense rival
  (re-embedding 245,130 passages per rival would take hours here and give the same numbers);
- the questions: RealTimeQA's question2article and evidence2article, asked without a date (the rivals have no
  "as of" search); answer_spans scored on the passage each system shows for an article;
- the scoring: passage runs collapse to articles by their best passage (the passage shown), then quality.py's
  nDCG@10, recall@10/100 and MRR@10.

Latency is each system's own search call for one question, after a warm-up, single process on these 2 cores;
rivals ask for 1,000 passages (to leave 100 articles), Dateline for 10 hits as served plus a second 100-hit
search for recall, timed on the first. Dateline's dense and hybrid rows embed the query inside the timed call
(int8 ONNX); the rivals are handed the query's vector, so their times leave out the embedding.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import data
from benchmarks.rivals import common

SETS = (data.QUESTIONS, data.EVIDENCE)
METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
TOP, DEEP = 10, 100


def judged_queries(data_dir: Path) -> list[tuple[str, str]]:
    """(qid, question) for both sets, judged questions only (a question without a relevant article scores 0)."""
    out = []
    for name in SETS:
        qrels = data.read_qrels(data_dir / f"{name}.qrels.tsv")
        for qid, query in data.read_queries(data_dir / f"{name}.queries.tsv").items():
            if any(r > 0 for r in qrels.get(qid, {}).values()):
                out.append((qid, " ".join(query.split())))
    return out


def export(args: argparse.Namespace) -> int:
    import numpy as np

    from benchmarks.lexical_engines import articles
    from index.embed import Encoder
    from index.reader import IndexReader

    reader = IndexReader(args.index)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    passages = list(reader.iter_passages())
    with open(out / "passages.jsonl", "w", encoding="utf-8") as f:
        for p in passages:
            line = {"id": str(p.row), "article": p.article_id, "start": p.start, "end": p.end}
            f.write(json.dumps({**line, "contents": f"{p.title}\n{p.text}" if p.title else p.text}) + "\n")
    with open(out / "articles.jsonl", "w", encoding="utf-8") as f:
        for row, title, text in articles(passages):
            article_id = reader.article_of(row)
            f.write(json.dumps({"id": article_id, "contents": f"{title}\n{text}" if title else text}) + "\n")
    rows = np.array([p.row for p in passages], dtype=np.int64)  # rows of deleted passages are gaps: not 0..n-1
    vectors = reader.index.reconstruct_batch(rows)
    np.save(out / "passage_vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
    questions = judged_queries(args.data)
    with open(out / "queries.tsv", "w", encoding="utf-8") as f:
        f.writelines(f"{qid}\t{q}\n" for qid, q in questions)
    encoder = Encoder(reader.manifest.model.name, dtype="float32", queries="torch")
    np.save(out / "query_vectors.npy", encoder.queries_fp32([q for _, q in questions]))
    manifest = {
        "index": str(args.index),
        "generation": reader.generation.name,
        "model": reader.manifest.to_json()["model"],
        "passages": len(passages),
        "articles": reader.articles,
        "questions": len(questions),
    }
    (out / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    reader.close()
    print(f"exported {len(passages)} passages, {len(questions)} questions to {out} in {time.perf_counter() - t0:.0f} s")
    return 0


def dateline(args: argparse.Namespace) -> int:
    from search.searcher import Searcher, SearchOptions

    questions = common.queries(args.export)
    searcher = Searcher.open(args.index)
    for mode in [m.strip() for m in args.modes.split(",")]:

        def search(query: str, k: int, mode: Any = mode) -> list[tuple[str, float]]:
            hits = searcher.search(query, SearchOptions(k=k, mode=mode, as_of=None, recency=0.0)).hits
            return [(str(h.passage.row), h.score) for h in hits]

        _, took = common.run_questions(lambda _i, q: search(q, TOP), questions)  # the served search, timed
        ranked = {qid: search(q, DEEP) for qid, q in questions}  # 100 articles for recall@100, untimed
        meta = {
            "system": "dateline",
            "version": searcher.reader.manifest.versions["dateline"],
            "settings": f"mode={mode}, group=article (as served), undated, queries {searcher.encoder.query_backend}",
            "unit": "passage",
            "build_s": searcher.reader.manifest.build["seconds"],
        }
        common.write_run(args.out / f"dateline-{mode}.run", f"dateline-{mode}", ranked, meta, took)
        print(f"dateline-{mode}: {len(ranked)} questions", file=sys.stderr)
    searcher.close()
    return 0


def read_run(path: Path) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """A run's docids per question, best first, and its sidecar."""
    ranked, meta = common.read_run(path)
    return {qid: [docid for docid, _ in hits] for qid, hits in ranked.items()}, meta


def collapse(docids: Sequence[str], article_of: dict[str, str]) -> list[tuple[str, str]]:
    """(article, the docid shown for it) by each article's best-ranked document, best first."""
    seen: dict[str, str] = {}
    for docid in docids:
        seen.setdefault(article_of.get(docid, docid), docid)
    return list(seen.items())


def score_run(
    ranked: dict[str, list[str]],
    unit: str,
    article_of: dict[str, str],
    spans_of: dict[str, tuple[int, int]],
    qrels: dict[str, dict[str, set[str]]],
    answers: list[data.AnswerSpans],
) -> dict[str, Any]:
    from benchmarks.quality import mean, ndcg, recall, reciprocal_rank

    shown: dict[str, list[tuple[str, str]]] = {
        qid: collapse(docids, article_of if unit == "passage" else {}) for qid, docids in ranked.items()
    }
    sets: dict[str, Any] = {}
    for name, judged in qrels.items():
        per = {}
        for qid, relevant in judged.items():
            arts = [a for a, _ in shown.get(qid, [])]
            per[qid] = (ndcg(arts, relevant, TOP), recall(arts, relevant, TOP), recall(arts, relevant, DEEP),
                        reciprocal_rank(arts, relevant, TOP))  # fmt: skip
        sets[name] = {
            "queries": len(per),
            **{m: mean([p[i] for p in per.values()]) for i, m in enumerate(METRICS)},
            "ndcg@10_per_query": {qid: round(p[0], 4) for qid, p in per.items()},
        }
    answered: dict[str, bool] = {}
    if unit == "passage":
        for rec in answers:
            top = shown.get(rec.qid, [])[:TOP]
            hit = any(
                a == rec.doc_id and any(spans_of[d][0] <= s and e <= spans_of[d][1] for s, e in rec.spans)
                for a, d in top
            )
            answered[rec.qid] = answered.get(rec.qid, False) or hit
    return {"sets": sets, "answer@10": mean([float(v) for v in answered.values()]) if answered else None}


def paired(a: dict[str, float], b: dict[str, float]) -> tuple[float, float]:
    """Mean of a - b over their shared questions, and the standard error of that mean."""
    diffs = [a[q] - b[q] for q in a.keys() & b.keys()]
    if len(diffs) < 2:
        return (diffs[0] if diffs else 0.0), 0.0
    return statistics.fmean(diffs), statistics.stdev(diffs) / math.sqrt(len(diffs))


def score(args: argparse.Namespace) -> int:
    article_of: dict[str, str] = {}
    spans_of: dict[str, tuple[int, int]] = {}
    with open(args.export / "passages.jsonl", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            article_of[p["id"]], spans_of[p["id"]] = p["article"], (p["start"], p["end"])
    asked = {qid for qid, _ in common.queries(args.export) if data.in_split(qid, args.split)}
    qrels = {}
    for name in SETS:
        raw = data.read_qrels(args.data / f"{name}.qrels.tsv")
        qrels[name] = {q: {d for d, r in docs.items() if r > 0} for q, docs in raw.items()}
        qrels[name] = {q: docs for q, docs in qrels[name].items() if docs and q in asked}
    answers = [a for a in data.read_answer_spans(args.data / data.ANSWER_SPANS) if a.qid in asked]
    runs = {}
    for path in args.runs:
        ranked, meta = read_run(path)
        result = score_run(ranked, meta["unit"], article_of, spans_of, qrels, answers)
        result["latency_ms"] = data.summarise(meta["query_ms"])
        runs[meta["tag"]] = {"meta": {k: v for k, v in meta.items() if k != "query_ms"}, **result}
    if args.baseline and args.baseline not in runs:
        print(f"error: --baseline {args.baseline}: no such run among {', '.join(runs)}", file=sys.stderr)
        return 2
    rows = []
    for tag, result in runs.items():
        q, e = result["sets"][data.QUESTIONS], result["sets"][data.EVIDENCE]
        row = [tag, q["ndcg@10"], q["recall@10"], q["recall@100"], q["mrr@10"], e["ndcg@10"], result["answer@10"],
               result["latency_ms"]["p50"], result["latency_ms"]["p95"]]  # fmt: skip
        if args.baseline:
            base = runs[args.baseline]["sets"][data.QUESTIONS]["ndcg@10_per_query"]
            diff, se = paired(q["ndcg@10_per_query"], base)
            result["vs_baseline"] = {"baseline": args.baseline, "ndcg@10_diff": round(diff, 4), "se": round(se, 4)}
            row.insert(2, "-" if tag == args.baseline else f"{diff:+.3f} ± {se:.3f}")
        rows.append(row)
    headers = ["run", "q2a nDCG@10", "R@10", "R@100", "MRR@10", "e2a nDCG@10", "answer@10", "p50 ms", "p95 ms"]
    if args.baseline:
        headers.insert(2, f"vs {args.baseline} (paired SE)")
    print(data.format_table(headers, rows))
    report = {"benchmark": "versus", "export": str(args.export), "split": args.split, "runs": runs}
    out = data.write_json(report, args.out, "versus")
    print(f"report: {out}", file=sys.stderr)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write passages, articles, vectors and questions for the rivals")
    e.add_argument("--index", type=Path, required=True, help="index folder (holding current/)")
    e.add_argument("--out", type=Path, required=True, help="export folder")
    d = sub.add_parser("dateline", help="Dateline's runs, as served, undated")
    d.add_argument("--index", type=Path, required=True, help="index folder (holding current/)")
    d.add_argument("--export", type=Path, required=True, help="export folder (for its questions)")
    d.add_argument("--out", type=Path, required=True, help="folder for the runs")
    d.add_argument("--modes", default="lexical,dense,hybrid", help="comma-separated search modes")
    s = sub.add_parser("score", help="score runs alike and print one table")
    s.add_argument("--export", type=Path, required=True, help="export folder (passage -> article and offsets)")
    s.add_argument("--out", type=Path, default=None, help="JSON report (default benchmarks/out/versus-*.json)")
    s.add_argument("--split", choices=data.SPLITS, default="all", help=f"questions scored ({data.SPLIT_RULE})")
    s.add_argument("--baseline", default=None, help="a run's tag: show each run's q2a nDCG@10 minus it, paired SE")
    s.add_argument("runs", type=Path, nargs="+", help="TREC run files, each with its .json sidecar")
    for q in (e, s):
        q.add_argument("--data", type=Path, default=data.DATA_DIR, help="the realtimeqa folder")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return {"export": export, "dateline": dateline, "score": score}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
