"""Scale a real index up to N passages for the speed benchmark, keeping the distribution real.

    python benchmarks/scale_index.py --index SRC --out DST --passages 1000000 [--noise 0.02]

Copies of the source's articles (ids `<id>~<copy>`) carry its passages' texts again and its real vectors
plus small Gaussian noise (sigma `--noise` per dimension, then re-normalised), so nearest neighbours stay as
clustered as real news embeddings are (random vectors would make every ANN index look bad). The result is an
ordinary index directory (same store, lexical index, manifest, model fingerprint), written through the same
IndexWriter, so the service and benchmarks/latency.py read it as they read any index. Copy 0 is the source
itself, unchanged. Dates, sources and titles are kept, so filters behave as on the source.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True, help="the real index to scale up")
    p.add_argument("--out", type=Path, required=True, help="the index directory to write")
    p.add_argument("--passages", type=int, default=1_000_000)
    p.add_argument("--noise", type=float, default=0.02, help="per-dimension noise sigma added to copied vectors")
    p.add_argument("--index-type", default="auto", help="FAISS spec for the result (default auto)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from index.articles import Article, Passage
    from index.manifest import Origin
    from index.reader import IndexReader
    from index.writer import IndexWriter

    started = time.perf_counter()
    source = IndexReader(args.index)
    if args.out.resolve() == args.index.resolve():
        p.error("--out must differ from --index")
    vectors = source.index.reconstruct_n(0, source.passages)
    by_article: dict[str, list] = {}
    for passage in source.iter_passages():
        by_article.setdefault(passage.article_id, []).append(passage)
    rng = np.random.default_rng(args.seed)
    writer = IndexWriter(args.out, source.manifest.dim)
    try:
        copy = 0
        while writer.rows < args.passages:
            for article_id, passages in by_article.items():
                if writer.rows >= args.passages:
                    break
                first = passages[0]
                new_id = article_id if copy == 0 else f"{article_id}~{copy}"
                text = " ".join(q.text for q in passages)  # stands in for the article text (hash and length)
                article = Article(new_id, first.title, text, first.date, first.source, first.url)
                rows = np.array([q.row for q in passages])
                v = vectors[rows]
                if copy:
                    v = v + rng.normal(0.0, args.noise, v.shape).astype(np.float32)
                    v /= np.linalg.norm(v, axis=1, keepdims=True)
                writer.add(
                    article,
                    [Passage(f"{new_id}#{q.n}", new_id, q.n, q.start, q.end, q.text) for q in passages],
                    v,
                )
            copy += 1
            print(f"copy {copy}: {writer.rows:,} passages", file=sys.stderr)
        build = {"scaled_from": str(args.index), "copies": copy, "noise": args.noise, "seed": args.seed}
        origin = Origin(source.manifest.model, source.manifest.splitter, source.manifest.versions, build)
        final = writer.commit(origin, args.index_type)
    except BaseException:
        writer.abort()
        raise
    print(f"{final}: {writer.rows:,} passages in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
