"""txtai on a versus export: its BM25, dense and hybrid runs over the export's passages and vectors.

    /work/venvs/txtai/bin/python benchmarks/rivals/txtai_run.py --export EXPORT --out RUNS

Three Embeddings indexes, each configured as txtai's docs show and otherwise left at txtai's defaults (read back
from the built index into each run's settings), one per run:

    txtai-lexical   Embeddings(keyword=True): txtai's sparse keyword index, which it expands to scoring
                    {"method": "bm25", "terms": True, "normalize": True} (k1=1.2, b=0.75, its own Tokenizer, terms
                    in over 10% of passages scored only for the best candidates of the rarer ones)
    txtai-dense     Embeddings(method="external", transform=...): the export's vectors in txtai's default ANN
                    backend, Faiss, which picks IVF<cells>,Flat (inner product) and its own nprobe at this size
    txtai-hybrid    Embeddings(hybrid=True, method="external", transform=...): both of the above in one index;
                    search() fuses them by txtai's default, a convex combination of normalised BM25 and cosine
                    with weights 0.5/0.5 over limit x 10 candidates from each side

The only departure from a user's setup is the vectors: txtai's "external" vectors method calls a transform on
each batch of texts, and ours returns the export's vector for that text (passage contents, or a question's
fp32 query vector) instead of running the model; duplicate passages share a vector, so a lookup by text is exact.
Each timed search is embeddings.search(question, 1000), txtai's query call; the transform's lookup is all the
"embedding" it does. Threads are txtai's and Faiss's defaults (OpenMP over the machine's cores).
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
from txtai import Embeddings
from txtai.embeddings.search.hybrid import Hybrid

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.rivals import common

VERSION = metadata.version("txtai")
DEFAULT_WEIGHTS = 0.5  # txtai's Search: weights=None -> 0.5, i.e. [dense 0.5, sparse 0.5]


def lookup(texts: list[str], vectors: np.ndarray) -> Callable[[list[str]], np.ndarray]:
    """txtai's external transform: a batch of texts -> their vectors. A plain function, as txtai calls anything
    else once to instantiate it."""
    row = {text: i for i, text in enumerate(texts)}

    def transform(batch: list[str]) -> np.ndarray:
        return vectors[[row[text] for text in batch]]

    return transform


def sparse_settings(embeddings: Embeddings) -> str:
    s = embeddings.scoring
    return (
        f"scoring {embeddings.config['scoring']} (BM25 k1={s.k1}, b={s.b}, common-term cutoff {s.terms.cutoff}, "
        f"txtai Tokenizer defaults)"
    )


def dense_settings(embeddings: Embeddings) -> str:
    ann = embeddings.ann
    components = ann.config["build"]["settings"]["components"]
    return f"backend {embeddings.config['backend']} {components} nprobe={ann.nprobe()}"


def run(tag: str, config: dict[str, Any], docs: list[tuple[str, str, None]], questions: list[tuple[str, str]],
        out: Path, describe: Callable[[Embeddings], str]) -> None:  # fmt: skip
    t0 = time.perf_counter()
    embeddings = Embeddings(**config)
    embeddings.index(docs)
    build_s = time.perf_counter() - t0
    print(f"{tag}: built {embeddings.count()} in {build_s:.0f} s", file=sys.stderr)

    def search(_i: int, question: str) -> list[tuple[str, float]]:
        return embeddings.search(question, common.DEPTH)

    ranked, took = common.run_questions(search, questions)
    shown = {k: v for k, v in config.items() if k != "transform"}
    meta = {
        "system": "txtai",
        "version": VERSION,
        "settings": f"Embeddings({shown}): {describe(embeddings)}; content off; threads: library defaults",
        "unit": "passage",
        "build_s": round(build_s, 1),
    }
    common.write_run(out / f"{tag}.run", tag, ranked, meta, took)
    print(f"{tag}: {len(ranked)} questions, median {np.median(took):.1f} ms", file=sys.stderr)
    embeddings.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--export", type=Path, required=True, help="export folder (benchmarks/versus.py export)")
    p.add_argument("--out", type=Path, required=True, help="folder for the runs")
    args = p.parse_args(argv)

    passages = list(common.passages(args.export))
    questions = common.queries(args.export)
    docs = [(p["id"], p["contents"], None) for p in passages]
    vectors = np.concatenate([common.passage_vectors(args.export), common.query_vectors(args.export)])
    transform = lookup([p["contents"] for p in passages] + [q for _, q in questions], vectors)
    external = {"method": "external", "transform": transform}

    def hybrid(e: Embeddings) -> str:
        fusion = Hybrid(e.scoring).method.__name__
        weights = f"dense {DEFAULT_WEIGHTS}/sparse {1 - DEFAULT_WEIGHTS}"
        return f"{sparse_settings(e)}; {dense_settings(e)}; fusion {fusion} {weights}, depth x 10 per side"

    run("txtai-lexical", {"keyword": True}, docs, questions, args.out, sparse_settings)
    run("txtai-dense", external, docs, questions, args.out, dense_settings)
    run("txtai-hybrid", {"hybrid": True, **external}, docs, questions, args.out, hybrid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
