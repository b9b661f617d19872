"""An index grown by adds (its vectors in parts, its BM25 index in several segments) against one index built of
the same articles at once: the same top 10 for every dev question in every mode?

    python benchmarks/grown.py ARTICLES... [--adds 100,3,1] [--modes lexical,hybrid,dense] [--out FILE.json]

Both are built in a temporary folder with the default model through the embedding cache: "grown" from
ARTICLES, then the corpus's first articles under new ids (benchmarks/ingest.py's batch) in adds of the given
sizes; "one" from ARTICLES and that batch together. Every dev question is asked of both as served
(benchmarks/shards.py's compare). With Flat indexes (up to 50,000 passages) both answer exactly; past that the
HNSW graphs differ, and dense agrees within ANN recall.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ingest import batch_articles
from benchmarks.shards import compare_and_report, write_jsonl
from index.build import build_index
from index.cache import default_cache_path
from index.embed import Encoder
from index.generations import resolve_generation, vector_files
from index.manifest import Manifest
from index.reader import IndexReader
from index.update import add_articles
from search.searcher import Searcher


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="the articles both indexes start from")
    parser.add_argument("--adds", default="100,3,1", help="sizes of the adds, in articles, in order")
    parser.add_argument("--modes", default="lexical,hybrid,dense")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.adds.split(",")]
    encoder, cache = Encoder(), default_cache_path()
    batch = batch_articles(sum(sizes))
    with tempfile.TemporaryDirectory(prefix="dateline-grown-") as tmp:
        work = Path(tmp)
        build_index(args.inputs, work / "grown", encoder, cache_path=cache, progress=False)
        started = time.perf_counter()
        done = 0
        for n in sizes:
            add_articles(work / "grown", batch[done : done + n], encoder, cache_path=cache)
            done += n
        print(f"{len(sizes)} adds in {time.perf_counter() - started:.1f} s")
        files = vector_files(Manifest.read(resolve_generation(work / "grown")).files)
        print(f"grown: vector files {files}")
        inputs = [*args.inputs, write_jsonl(work / "batch.jsonl", batch)]
        build_index(inputs, work / "one", encoder, cache_path=cache, progress=False)
        grown = Searcher(IndexReader(work / "grown"), encoder)
        one = Searcher(IndexReader(work / "one"), encoder)
        report = {"inputs": [str(p) for p in args.inputs], "adds": sizes, "files": files}
        compare_and_report(one, grown, args.modes.split(","), args.out, "grown", report)


if __name__ == "__main__":
    main()
