"""What an add or a delete costs an index: seconds, bytes written and disk grown, for a batch of real articles.

    python benchmarks/ingest.py --index COPY [--batch 100] [--delete 10] [--out FILE.json]

COPY is changed: run it on a copy (`cp -a /work/indexes/rtqa-all /work/indexes/seg-work`), never on an index
you serve. The batch is the first `--batch` articles of the RealTimeQA corpus under new ids (`ingest-<id>`),
so it is new to any index of that corpus and its vectors come from the embedding cache (the model only counts
tokens): the same batch at every index size. Then `--delete` of the added articles are deleted.

Each step reports its wall time (and the seconds of the writer's stages inside it: folding store segments, reading
and writing the vectors, near-duplicate grouping, the lexical commit, hashing the files, publishing), the bytes
this process wrote to storage (`write_bytes` of /proc/self/io: pages it dirtied, copies included), the growth
of the index folder (`du`, hard links counted once; old generations beyond the two kept are pruned by the step
itself) and the batch's own size (its JSONL plus one float32 vector per passage), so "written / batch" reads as
the write amplification. After each step it times what a serving process pays to swap the new generation in:
opening its reader whole, and opening it reusing the reader of the generation before (`IndexReader(reuse=)`,
what the service does).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import inspect
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import DATA_DIR, format_table, write_json
from index import edit, segments
from index.articles import Article, read_articles
from index.cache import default_cache_path
from index.embed import Encoder
from index.generations import resolve_generation
from index.manifest import Manifest
from index.reader import IndexReader
from index.update import add_articles, delete_articles

CORPUS = DATA_DIR / "corpus.jsonl.xz"
PREFIX = "ingest-"


def batch_articles(n: int) -> list[Article]:
    """The corpus's first `n` articles with text, under new ids."""
    found: list[Article] = []
    with contextlib.closing(read_articles([CORPUS])) as records:
        for record in records:
            if isinstance(record, Article) and record.text.strip():
                found.append(dataclasses.replace(record, article_id=PREFIX + record.article_id))
                if len(found) >= n:
                    break
    return found


def written() -> int:
    """Bytes this process has caused to be written to storage so far."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("/proc/self/io has no write_bytes")


def disk_bytes(folder: Path) -> int:
    """The folder's disk use (du: each hard-linked file once)."""
    return int(subprocess.run(["du", "-sb", str(folder)], capture_output=True, text=True, check=True).stdout.split()[0])


# The writer's stages, timed by wrapping them where index/edit.py calls them: (module, attribute, label).
STAGES = [
    (segments.PassageStore, "absorb", "store fold"),
    (edit.vecs, "read", "vectors read"),
    (edit.vecs, "write", "vectors write"),
    (segments.SegmentEditor, "group_near_duplicates", "near-duplicates"),
    (edit.lexical.LexicalEditor, "commit", "lexical commit"),
    (edit, "file_entries", "hashing"),
    (edit, "publish", "publish"),
]


@contextlib.contextmanager
def stage_timer() -> Iterator[dict[str, float]]:
    """Seconds spent in each of STAGES while the block runs."""
    spent: dict[str, float] = {label: 0.0 for _, _, label in STAGES}
    originals = [(owner, name, inspect.getattr_static(owner, name)) for owner, name, _ in STAGES]

    def timed(fn: Any, label: str) -> Any:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started

        return run

    for (owner, name, label), (_, _, raw) in zip(STAGES, originals, strict=True):
        fn = getattr(owner, name)
        wrapped = timed(raw.__func__ if isinstance(raw, classmethod) else fn, label)
        setattr(owner, name, classmethod(wrapped) if isinstance(raw, classmethod) else wrapped)
    try:
        yield spent
    finally:
        for owner, name, raw in originals:
            setattr(owner, name, raw)


def measured(index: Path, step: Any) -> dict[str, Any]:
    """Run `step()` (an add or a delete) and what it cost."""
    disk, wrote, started = disk_bytes(index), written(), time.perf_counter()
    with stage_timer() as stages:
        report = step()
    seconds = time.perf_counter() - started
    return {
        "stages": {"embed": round(report.embed_seconds, 2), **{label: round(s, 2) for label, s in stages.items()}},
        "seconds": round(seconds, 2),
        "bytes_written": written() - wrote,
        "disk_growth": disk_bytes(index) - disk,
        "passages_written": report.passages,
        "articles": report.added + report.deleted,
    }


def reload_seconds(index: Path, served: IndexReader) -> tuple[dict[str, float], IndexReader]:
    """Seconds to open the live generation's reader whole and reusing `served` (closed); the reusing reader."""
    started = time.perf_counter()
    IndexReader(index).close()
    whole = time.perf_counter() - started
    started = time.perf_counter()
    reader = IndexReader(index, reuse=served)
    reused = time.perf_counter() - started
    served.close()
    return {"whole": round(whole, 2), "reusing": round(reused, 2)}, reader


def mb(n: float) -> str:
    return f"{n / 1e6:,.2f} MB"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="a COPY of an index (it is changed)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--delete", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    before = Manifest.read(resolve_generation(args.index))
    encoder = Encoder()
    batch = batch_articles(args.batch)
    batch_json = sum(len(json.dumps(dataclasses.asdict(a)).encode()) + 1 for a in batch)
    served = IndexReader(args.index)
    add = measured(args.index, lambda: add_articles(args.index, batch, encoder, cache_path=default_cache_path()))
    add["reload_s"], served = reload_seconds(args.index, served)
    batch_bytes = batch_json + add["passages_written"] * before.dim * 4
    gone = [a.article_id for a in batch[: args.delete]]
    delete = measured(args.index, lambda: delete_articles(args.index, gone))
    delete["reload_s"], served = reload_seconds(args.index, served)
    served.close()
    rows = [
        [name, step["articles"], step["passages_written"], f"{step['seconds']:.2f}", mb(step["bytes_written"]),
         mb(step["disk_growth"]), f"{step['bytes_written'] / batch_bytes:.1f}x",
         f"{step['reload_s']['whole']:.2f} / {step['reload_s']['reusing']:.2f}"]
        for name, step in (("add", add), ("delete", delete))
    ]  # fmt: skip
    print(f"{args.index}: {before.counts.passages:,} passages before; batch {mb(batch_bytes)} (JSONL + vectors)")
    headers = ["step", "articles", "passages written", "s", "written", "disk growth", "written / batch", "reload s"]
    print(format_table(headers, rows))
    for name, step in (("add", add), ("delete", delete)):
        print(f"{name} stages (s): " + ", ".join(f"{label} {s:.2f}" for label, s in step["stages"].items()))
    if args.out:
        report = {"index": str(args.index), "passages_before": before.counts.passages, "batch_bytes": batch_bytes}
        write_json({**report, "add": add, "delete": delete}, args.out, "ingest")


if __name__ == "__main__":
    main()
