"""Haystack on a versus export: its in-memory BM25, embedding and hybrid retrieval over the export's passages.

    /work/venvs/haystack/bin/python benchmarks/rivals/haystack_run.py --export EXPORT --out RUNS [--runs bm25,dense]

One InMemoryDocumentStore at its defaults (BM25L with k1=1.5, b=0.75, delta=0.5 as its scorer falls back to
when bm25_parameters is empty; its default tokenisation regex over lowercased NFC text; dot-product similarity)
holds every passage as a Document (id = passage row, content = title + passage text, embedding = the export's
vector), then three query pipelines, each run per question with Pipeline.run as Haystack's docs do:

    haystack-bm25     InMemoryBM25Retriever(top_k=1000)
    haystack-dense    InMemoryEmbeddingRetriever(top_k=1000), handed the question's fp32 vector where the docs'
                      recipe puts a text embedder
    haystack-hybrid   both, joined by DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=1000): the
                      hybrid-retrieval recipe, RRF with k=61 and equal weights (the joiner's defaults), no ranker

Every run shares the one store, so each reports the same build seconds (write_documents: tokenising and
counting for BM25, storing the embeddings). The in-memory store scores every document in Python per question
(BM25), rebuilds a NumPy matrix of all embeddings from their lists per question (dense), and copies each of the
1,000 hits through Document.to_dict (embedding included): Haystack's in-memory path as shipped, and what the
latencies measure (seconds per question at 245,130 passages). Threads: library defaults.
`--questions N` asks only the first N questions (to time a sample); `--runs` makes only some of the three.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document, Pipeline
from haystack.components.joiners import DocumentJoiner
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
from haystack.document_stores.in_memory import InMemoryDocumentStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.rivals import common

VERSION = metadata.version("haystack-ai")
# what the in-memory store's scorers fall back to when bm25_parameters is empty (its _score_bm25* methods)
BM25_DEFAULTS = {
    "BM25Okapi": "k1=1.5, b=0.75, epsilon=0.25",
    "BM25L": "k1=1.5, b=0.75, delta=0.5",
    "BM25Plus": "k1=1.5, b=0.75, delta=1.0",
}
RRF_K = 61  # haystack.utils.misc._reciprocal_rank_fusion


def pipelines(store: InMemoryDocumentStore) -> dict[str, tuple[Pipeline, str]]:
    """tag -> (query pipeline, what it is)."""
    bm25 = Pipeline()
    bm25.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=common.DEPTH))
    dense = Pipeline()
    dense.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=common.DEPTH))
    hybrid = Pipeline()
    hybrid.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=common.DEPTH))
    hybrid.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=common.DEPTH))
    joiner = DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=common.DEPTH)
    hybrid.add_component("joiner", joiner)
    hybrid.connect("bm25_retriever", "joiner")
    hybrid.connect("embedding_retriever", "joiner")
    params = store.bm25_parameters or BM25_DEFAULTS[store.bm25_algorithm]
    lexical = f"InMemoryBM25Retriever(top_k={common.DEPTH}, scale_score=False): {store.bm25_algorithm} {params}"
    embedding = f"InMemoryEmbeddingRetriever(top_k={common.DEPTH}): exact {store.embedding_similarity_function}"
    fusion = f"DocumentJoiner({joiner.join_mode}, k={RRF_K}, weights={joiner.weights or 'equal'}, top_k={joiner.top_k})"
    return {
        "haystack-bm25": (bm25, lexical),
        "haystack-dense": (dense, embedding),
        "haystack-hybrid": (hybrid, f"{lexical} + {embedding}, {fusion}"),
    }


def searcher(pipeline: Pipeline, qvectors: list[list[float]]) -> Callable[[int, str], list[tuple[str, float]]]:
    """One question through the pipeline, as a user runs it: the text to BM25, its vector to the embedding side."""
    inputs = pipeline.inputs()

    def search(i: int, question: str) -> list[tuple[str, float]]:
        data: dict[str, dict[str, Any]] = {}
        if "bm25_retriever" in inputs:
            data["bm25_retriever"] = {"query": question}
        if "embedding_retriever" in inputs:
            data["embedding_retriever"] = {"query_embedding": qvectors[i]}
        docs = next(iter(pipeline.run(data).values()))["documents"]
        return [(d.id, d.score) for d in docs]

    return search


def join_runs(out: Path, questions: list[tuple[str, str]]) -> int:
    """haystack-hybrid from the two retrievers' runs: the hybrid pipeline's DocumentJoiner applied to the very
    lists its retrievers return, without asking the in-memory store again (that takes ~47 min here). Its time
    per question is the two retrievers' measured times plus the join's own: the pipeline runs them in turn."""
    joiner = DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=common.DEPTH)
    runs = [common.read_run(out / f"haystack-{r}.run") for r in ("bm25", "dense")]
    lists = [ranked for ranked, _ in runs]
    times = [meta["query_ms"] for _, meta in runs]
    ranked, took = {}, []
    for i, (qid, _) in enumerate(questions):
        docs = [[Document(id=d, score=s) for d, s in each[qid]] for each in lists]
        t0 = time.perf_counter()
        joined = joiner.run(documents=docs)["documents"]
        took.append(times[0][i] + times[1][i] + (time.perf_counter() - t0) * 1e3)
        ranked[qid] = [(d.id, d.score) for d in joined]
    fusion = f"DocumentJoiner({joiner.join_mode}, k={RRF_K}, weights={joiner.weights or 'equal'}, top_k={joiner.top_k})"
    meta = {
        "system": "haystack",
        "version": VERSION,
        "settings": f"haystack-bm25's and haystack-dense's lists joined by {fusion}, as the hybrid pipeline joins "
        "them; time = the two retrievers' times + the join",
        "unit": "passage",
        "build_s": runs[0][1]["build_s"],
    }
    common.write_run(out / "haystack-hybrid.run", "haystack-hybrid", ranked, meta, took)
    print(f"haystack-hybrid (joined): {len(ranked)} questions, median {np.median(took):.0f} ms", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--export", type=Path, required=True, help="export folder (benchmarks/versus.py export)")
    p.add_argument("--out", type=Path, required=True, help="folder for the runs")
    p.add_argument("--questions", type=int, default=None, help="ask only the first N questions")
    p.add_argument("--runs", default="bm25,dense,hybrid", help="comma-separated runs to make (of bm25,dense,hybrid)")
    p.add_argument(
        "--join", action="store_true", help="make haystack-hybrid by joining the bm25 and dense runs in --out"
    )
    args = p.parse_args(argv)

    questions = common.queries(args.export)[: args.questions]
    if args.join:
        return join_runs(args.out, questions)
    qvectors = [v.tolist() for v in common.query_vectors(args.export)]
    vectors = common.passage_vectors(args.export)
    documents = [
        Document(id=p["id"], content=p["contents"], embedding=vectors[i].tolist())
        for i, p in enumerate(common.passages(args.export))
    ]

    t0 = time.perf_counter()
    store = InMemoryDocumentStore()
    store.write_documents(documents)
    build_s = time.perf_counter() - t0
    del documents
    print(f"haystack: wrote {store.count_documents()} documents in {build_s:.0f} s", file=sys.stderr)

    wanted = {f"haystack-{r.strip()}" for r in args.runs.split(",")}
    for tag, (pipeline, settings) in pipelines(store).items():
        if tag not in wanted:
            continue
        search = searcher(pipeline, qvectors)
        ranked, took = common.run_questions(search, questions)
        meta = {
            "system": "haystack",
            "version": VERSION,
            "settings": f"InMemoryDocumentStore() defaults, one store for all runs; {settings}; "
            "query vector given, no embedder; threads: library defaults",
            "unit": "passage",
            "build_s": round(build_s, 1),
        }
        common.write_run(args.out / f"{tag}.run", tag, ranked, meta, took)
        print(f"{tag}: {len(ranked)} questions, median {np.median(took):.0f} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
