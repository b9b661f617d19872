"""`python -m index build|info|check`: main(argv) -> exit code; heavy imports only inside the chosen command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from index.articles import InputError, input_files

DEFAULT_INDEX = "data/index"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m index", description="Build and inspect Dateline indexes.")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build (or fully rebuild) an index from article files and folders")
    build.add_argument("inputs", nargs="+", help=".jsonl/.csv/.txt files or folders (optionally .gz/.xz)")
    build.add_argument("--index", default=DEFAULT_INDEX, help=f"index directory (default {DEFAULT_INDEX})")
    build.add_argument("--model", default=None, help="model name or sentence-transformers folder (default MiniLM)")
    build.add_argument(
        "--dtype",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="passage embedding dtype; auto = bf16 where the CPU has it and it agrees with fp32",
    )
    build.add_argument("--max-tokens", type=int, default=None, help="passage window incl. title (default: model limit)")
    build.add_argument("--overlap-tokens", type=int, default=48, help="sentences repeated between windows (tokens)")
    build.add_argument(
        "--index-type",
        default="auto",
        help="FAISS index_factory spec, or auto: Flat (exact) up to 50,000 passages, HNSW32 past that",
    )
    build.add_argument("--cache", default=None, help="embedding cache file (default ~/.cache/dateline/...)")
    build.add_argument("--no-cache", action="store_true", help="embed everything, read and write no cache")
    build.add_argument("--batch-size", type=int, default=32)
    build.add_argument("--strict", action="store_true", help="any bad record fails the build (index unchanged)")
    build.add_argument("--no-progress", action="store_true")
    build.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: a Ray Data pipeline over a cluster (pip install 'dateline[ray]')",
    )
    build.add_argument("--address", default=None, help="--engine ray: the cluster (host:port); default: start Ray here")
    build.add_argument("--actors", type=int, default=None, help="--engine ray: embedding actors (default: one per CPU)")
    build.add_argument("--shards", type=int, default=1, help="--engine ray: write N shard indexes (search.shards)")

    info = sub.add_parser("info", help="print an index's manifest")
    info.add_argument("index", nargs="?", default=DEFAULT_INDEX)
    check = sub.add_parser("check", help="verify an index's files against its manifest (checksums, counts)")
    check.add_argument("index", nargs="?", default=DEFAULT_INDEX)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from index.store import StoreError

    try:
        if args.command == "build":
            return _build(args)
        if args.command == "info":
            from index.store import read_manifest, resolve_generation

            print(json.dumps(read_manifest(resolve_generation(Path(args.index))), indent=2))
            return 0
        if args.command == "check":
            from index.store import IndexReader

            reader = IndexReader(Path(args.index), verify=True)
            print(f"ok: {reader.generation}: {reader.articles:,} articles, {reader.passages:,} passages")
            return 0
    except (InputError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2


def _build(args: argparse.Namespace) -> int:
    from index.build import build_index, default_cache_path
    from index.embed import DEFAULT_MODEL, Encoder, ModelError
    from index.split import SplitSettings

    input_files(args.inputs)  # a missing path or unknown format fails now, not after the model has loaded
    if args.engine == "local" and (args.shards != 1 or args.address or args.actors):
        print("error: --shards, --address and --actors need --engine ray", file=sys.stderr)
        return 2
    if args.engine == "ray":
        from index.distributed import require_ray

        require_ray()  # without Ray, say how to install it now, not after the model has loaded
    try:
        encoder = Encoder(args.model or DEFAULT_MODEL, dtype=args.dtype)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = SplitSettings(max_tokens=args.max_tokens or encoder.info.max_tokens, overlap_tokens=args.overlap_tokens)
    cache = None if args.no_cache else (Path(args.cache) if args.cache else default_cache_path())
    print(f"model {encoder.info.name} ({encoder.info.dim}-d, {encoder.dtype}), writing {args.index}", file=sys.stderr)
    if args.engine == "ray":
        from index.distributed import RayOptions, build_index_ray

        report = build_index_ray(
            args.inputs,
            Path(args.index),
            encoder,
            settings,
            index_spec=args.index_type,
            strict=args.strict,
            progress=not args.no_progress,
            batch_size=args.batch_size,
            options=RayOptions(address=args.address, actors=args.actors),
            shards=args.shards,
        )
    else:
        report = build_index(
            args.inputs,
            Path(args.index),
            encoder,
            settings,
            index_spec=args.index_type,
            cache_path=cache,
            strict=args.strict,
            progress=not args.no_progress,
            batch_size=args.batch_size,
        )
    print(report.summary(), file=sys.stderr)
    print(f"index ready: {Path(args.index).resolve()} (generation {report.generation})", file=sys.stderr)
    return 0
