"""An index grown by adds (its vectors in segments, its BM25 index in several tantivy segments) against one index
built of the same articles at once: the same top 10 for every dev question in every mode?

    python benchmarks/grown.py ARTICLES... [--adds 100,3,1 | --adds 20x10] [--no-merge] [--modes all]
        [--index-type auto] [--http-rounds 0] [--compact] [--out FILE.json]

Both are built in a temporary folder with the default model through the embedding cache: "grown" from
ARTICLES, then the corpus's first articles under new ids (benchmarks/ingest.py's batch) in adds of the given
sizes (`20x10`: 20 adds of 10), folded as adds fold them or, with `--no-merge`, each kept a segment of its own;
"one" from ARTICLES and that batch together. Each segment's first row, rows, vector and store bytes are printed
(from the manifest). Every dev question is asked of both as served in each mode (`all`: benchmarks/quality.py's
default list; benchmarks/shards.py's compare: passage ids and scores of the top 10, in order).

BM25 must agree exactly. Dense is exact while every segment is Flat (up to 50,000 vectors, or `--index-type
Flat`), and must then agree exactly too; with a graph (`--index-type HNSW32`) dense agrees within ANN recall:
each index's vector recall@10 against exact search over its own vectors (benchmarks/latency.py's) is printed
beside the table, and where the two differ the graph did.

`--http-rounds N` serves both indexes (benchmarks/latency.py's server) and times GET /search over the dev
questions in lexical, dense and hybrid, N rounds, the two indexes taking turns (which goes first alternates), so
the machine's noise falls on both; the table gives each p50 and grown / one. `--compact` then runs `index
compact` on the grown index, checks the manifest lists one vector segment, and compares again. `--delete N`
deletes N of the added articles from the grown index (every len/N-th, so several segments lose some: each
segment's store keeps them, deleted.json hides them) and leaves them out of "one".
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import DATA_DIR, QUESTIONS, format_table, in_split, read_queries, summarise, write_json
from benchmarks.ingest import batch_articles
from benchmarks.latency import measure_http, serving, vector_recall
from benchmarks.quality import served_modes
from benchmarks.shards import compare_and_report, write_jsonl
from index.articles import Article
from index.build import build_index
from index.cache import default_cache_path
from index.embed import Encoder
from index.generations import first_row, resolve_generation, store_files, vector_files
from index.manifest import Manifest
from index.reader import IndexReader
from index.update import add_articles, compact, delete_articles
from search.searcher import Searcher

HTTP_MODES = ("lexical", "dense", "hybrid")
TAGS = ("one", "grown")


def add_sizes(spec: str) -> list[int]:
    """Add sizes from "100,3,1" (three adds) or "20x10" (twenty adds of 10); items mix: "1x100,20x10"."""
    sizes: list[int] = []
    for item in spec.split(","):
        times, _, size = item.rpartition("x")
        sizes += [int(size)] * int(times or 1)
    return sizes


def segments(index: Path) -> list[dict[str, int]]:
    """The live generation's segments in row order (from its manifest): first row, rows (deleted ones included),
    bytes of its vectors and of its passage store (0 where its vector part has no store segment of its own)."""
    manifest = Manifest.read(resolve_generation(index))
    names = vector_files(manifest.files)
    stores = {first: manifest.files[name].bytes for first, name in store_files(manifest.files)}
    firsts = [first_row(name) for name in names]
    ends = [*firsts[1:], manifest.counts.vectors]
    return [
        {"first_row": a, "rows": b - a, "vector_bytes": manifest.files[name].bytes, "store_bytes": stores.get(a, 0)}
        for name, a, b in zip(names, firsts, ends, strict=True)
    ]


def show_segments(tag: str, found: list[dict[str, int]]) -> None:
    print(f"{tag}: {len(found)} segments")
    rows = [[i, *segment.values()] for i, segment in enumerate(found)]
    print(format_table(["segment", "first row", "rows", "vector bytes", "store bytes"], rows))


def recalls(searchers: dict[str, Searcher[Any]]) -> dict[str, float]:
    """Each index's vector recall@10 over the dev questions against exact search over its own vectors."""
    queries = dev_questions()
    found = {tag: round(vector_recall(s, queries), 4) for tag, s in searchers.items()}
    print("vector recall@10 against exact: " + ", ".join(f"{tag} {r:.4f}" for tag, r in found.items()))
    return found


def dev_questions() -> list[str]:
    return [q for qid, q in read_queries(DATA_DIR / f"{QUESTIONS}.queries.tsv").items() if in_split(qid, "dev")]


def http_p50(work: Path, rounds: int) -> list[dict[str, Any]]:
    """GET /search p50 (ms) per mode of "one" and "grown", both served at once and timed in turns (see above)."""
    queries = dev_questions()
    samples: dict[tuple[str, str], list[float]] = {(m, tag): [] for m in HTTP_MODES for tag in TAGS}
    with contextlib.ExitStack() as stack:
        urls = {tag: stack.enter_context(serving(work / tag, threads=1))[0] for tag in TAGS}
        for r in range(rounds):
            for mode in HTTP_MODES:
                for tag in TAGS[:: 1 if r % 2 == 0 else -1]:
                    samples[mode, tag] += measure_http(urls[tag], queries, 1, 10, mode)["http"]  # type: ignore[arg-type]
    rows = []
    for mode in HTTP_MODES:
        one, grown = (float(summarise(samples[mode, tag])["p50"] or 0.0) for tag in TAGS)
        requests = len(samples[mode, "one"])
        rows.append({"mode": mode, "requests each": requests, "one p50 ms": one, "grown p50 ms": grown})
        rows[-1]["grown / one"] = round(grown / one, 3)
    print(format_table(list(rows[0]), [list(r.values()) for r in rows]))
    return rows


def open_both(work: Path, encoder: Encoder) -> dict[str, Searcher[Any]]:
    return {tag: Searcher(IndexReader(work / tag), encoder) for tag in TAGS}


def delete_some(index: Path, batch: list[Article], n: int) -> list[Article]:
    """Delete `n` of the added articles (every len/n-th) from the index; the batch without them."""
    gone = {a.article_id for a in batch[:: max(1, len(batch) // n)][:n]} if n else set()
    if gone:
        delete_articles(index, sorted(gone))
    return [a for a in batch if a.article_id not in gone]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="the articles both indexes start from")
    parser.add_argument("--adds", default="100,3,1", help="sizes of the adds, in articles, in order (or NxSIZE)")
    parser.add_argument("--no-merge", dest="merge", action="store_false", help="adds fold no segments")
    parser.add_argument("--modes", default="all", help="quality.py's mode names, comma-separated, or all")
    parser.add_argument("--index-type", default="auto", help="FAISS spec of both builds (default auto)")
    parser.add_argument("--http-rounds", type=int, default=0, help="time both over HTTP, N rounds (0: skip)")
    parser.add_argument("--compact", action="store_true", help="then compact the grown index and compare again")
    parser.add_argument("--delete", type=int, default=0, help="then delete N added articles, spread over the adds")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = add_sizes(args.adds)
    encoder, cache = Encoder(), default_cache_path()
    batch = batch_articles(sum(sizes))
    with tempfile.TemporaryDirectory(prefix="dateline-grown-") as tmp:
        work = Path(tmp)
        build = {"encoder": encoder, "cache_path": cache, "progress": False, "index_spec": args.index_type}
        build_index(args.inputs, work / "grown", **build)
        started = time.perf_counter()
        done = 0
        for n in sizes:
            add_articles(work / "grown", batch[done : done + n], encoder, cache_path=cache, merge=args.merge)
            done += n
        print(f"{len(sizes)} adds in {time.perf_counter() - started:.1f} s")
        kept = delete_some(work / "grown", batch, args.delete)
        inputs = [*args.inputs, write_jsonl(work / "batch.jsonl", kept)]
        build_index(inputs, work / "one", **build)
        report: dict[str, Any] = {"inputs": [str(p) for p in args.inputs], "adds": sizes, "merge": args.merge}
        report["deleted"] = len(batch) - len(kept)
        for tag in TAGS:
            show_segments(tag, report.setdefault("segments", {}).setdefault(tag, segments(work / tag)))
        searchers = open_both(work, encoder)
        modes = served_modes(searchers["one"]) if args.modes == "all" else args.modes.split(",")
        report["vector_recall@10"] = recalls(searchers)
        report["top10"] = compare_and_report(searchers["one"], searchers["grown"], modes, None, "grown", {})
        if args.http_rounds:
            report["http"] = http_p50(work, args.http_rounds)
        if args.compact:
            compact(work / "grown")
            after: dict[str, Any] = {"segments": segments(work / "grown")}
            show_segments("grown, compacted", after["segments"])
            searchers = open_both(work, encoder)
            after["top10"] = compare_and_report(searchers["one"], searchers["grown"], modes, None, "", {})
            report["compacted"] = after
        if args.out:
            print(f"report: {write_json(report, args.out, 'grown')}")


if __name__ == "__main__":
    main()
