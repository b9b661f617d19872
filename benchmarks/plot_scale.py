"""Latency and memory against corpus size, from latency.py reports: a PNG for docs/benchmarks.md.

    python benchmarks/plot_scale.py benchmarks/out/latency-2023.json benchmarks/out/latency-all.json \\
        benchmarks/out/latency-1m.json --out benchmarks/scale.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="+", type=Path, help="latency.py JSON reports, one per index size")
    p.add_argument("--out", type=Path, default=Path("benchmarks/scale.png"))
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted((json.loads(r.read_text()) for r in args.reports), key=lambda r: r["passages"])
    sizes = [r["passages"] for r in runs]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for stage, style in (("http", "o-"), ("embed", "s--"), ("vector", "^--"), ("lexical", "v--")):
        for stat, alpha in (("p50", 1.0), ("p99", 0.45)):
            values = [r["stages_ms"].get(stage, {}).get(stat) for r in runs]
            left.plot(sizes, values, style, alpha=alpha, label=f"{stage} {stat}")
    concurrent = [(r["passages"], r["concurrent_http"]["latency_ms"]["p50"]) for r in runs if r.get("concurrent_http")]
    if concurrent:
        left.plot(*zip(*concurrent, strict=True), "x:", label="http p50 at 8 clients")
    left.set(xscale="log", xlabel="passages", ylabel="ms", title="Search latency (hybrid, k=10)")
    left.legend(fontsize=7, ncol=2)
    memory = [(r["passages"], r["server_memory"].get("rss_mb")) for r in runs if r.get("server_memory")]
    if memory:
        right.plot(*zip(*memory, strict=True), "o-", label="service resident memory")
    qps = [(r["passages"], r["concurrent_http"]["qps"]) for r in runs if r.get("concurrent_http")]
    right.set(xscale="log", xlabel="passages", ylabel="MB", title="Memory and throughput")
    if qps:
        twin = right.twinx()
        twin.plot(*zip(*qps, strict=True), "s--", color="tab:orange", label="queries/s at 8 clients")
        twin.set_ylabel("queries/s")
        twin.legend(loc="lower right", fontsize=7)
    right.legend(loc="upper left", fontsize=7)
    for r in runs:
        left.annotate(
            f"recall@10 {r.get('vector_recall@10', 1.0):.3f}",
            (r["passages"], r["stages_ms"]["http"]["p50"]),
            fontsize=6,
            textcoords="offset points",
            xytext=(4, 4),
        )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
