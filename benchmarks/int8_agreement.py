"""Agreement of an index's calibrated int8 passage path with torch fp32, on passages it was not calibrated on.

    python benchmarks/int8_agreement.py --index INDEX --inputs FILE... [--passages 2000] [--out FILE]

Re-splits the index's inputs as its build did, checks that their calibration sample (index/int8_path.py) hashes to
the identity in the index's path name, drops that sample, draws `--passages` of the rest with seed 19, and embeds
them with the index's saved int8 model and with torch fp32 (2 threads); then the same for the 1,000 passages
benchmarks/encoding.py measures (another sample of the RealTimeQA corpus). Reports min and mean cosine and how
many passages fall under 0.99 and 0.995.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEED = 19


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    cosines = np.sum(a * b, axis=1)
    return {
        "passages": len(cosines),
        "min": round(float(cosines.min()), 4),
        "mean": round(float(cosines.mean()), 4),
        "under_0.99": int((cosines < 0.99).sum()),
        "under_0.995": int((cosines < 0.995).sum()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.encoding import sample_passages
    from index import int8_path
    from index.articles import input_files
    from index.build import passage_texts
    from index.embed import Encoder
    from index.generations import resolve_generation
    from index.manifest import Manifest

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--inputs", nargs="+", required=True, help="the files the index was built from")
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    manifest = Manifest.read(resolve_generation(Path(args.index)))
    model, path = manifest.model, manifest.model.passages
    if not int8_path.is_int8(path) or path == int8_path.PREFIX:
        sys.exit(f"error: {args.index} was not built on a calibrated int8 path ({path or model.dtype})")
    fp32 = Encoder(model.path, dtype="float32", threads=2, queries="torch")
    texts = list(dict.fromkeys(passage_texts(input_files(args.inputs), fp32, manifest.splitter)))
    sample = int8_path.calibration_sample(texts)
    if f"{int8_path.PREFIX}-{int8_path.identity(model.fingerprint, sample)}" != path:
        sys.exit(f"error: these inputs do not calibrate to {path}: not the index's inputs")
    chosen = set(sample)
    outside = random.Random(SEED).sample([t for t in texts if t not in chosen], min(args.passages, len(texts) - 300))
    measured, _ = sample_passages(1000, 300)
    int8 = int8_path.documents(path, Path(args.index), Path(model.path), (model.max_tokens, model.dim), 2)
    report: dict[str, Any] = {"index": args.index, "path": path, "archive_passages": len(texts)}
    for name, group in (("archive_outside_calibration", outside), ("encoding_benchmark_1000", measured)):
        t0 = time.perf_counter()
        report[name] = agreement(int8(group, 32), fp32.documents(group))
        print(f"{name}: {report[name]} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
