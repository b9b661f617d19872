"""`python -m index build|add|read|delete|...`: main(argv) -> exit code; heavy imports only in the branch."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from index.articles import input_files
from index.embed import DTYPE_PATHS, PASSAGE_PATHS
from index.errors import InputError, ModelError, StoreError
from index.generations import DEFAULT_INDEX
from index.intake import SHOW_PROBLEMS, bad_input

WAIT_HELP = "seconds to wait for another writer (default: as long as it takes)"
DTYPE_CHOICES = (*PASSAGE_PATHS, *DTYPE_PATHS)
DTYPE_HELP = (
    "passage encoding path; auto (default) = the fastest for this CPU whose vectors agree with fp32 "
    "(docs/encoding.md); float32 and bfloat16 are torch-fp32 and torch-bf16; openvino-int8 is quantised on a "
    "sample of the archive's passages and saved with the index (needs nncf)"
)
INPUTS_HELP = "files or folders: .jsonl/.csv/.txt/.html (optionally .gz/.xz), .warc/.warc.gz"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m index", description="Build and inspect Dateline indexes.")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build (or fully rebuild) an index from article files and folders")
    _build_arguments(build)

    add = sub.add_parser("add", help="add new or changed articles to an index (unchanged ones are skipped)")
    add.add_argument("inputs", nargs="+", help=INPUTS_HELP)
    add.add_argument("--index", default=DEFAULT_INDEX, help=f"index directory (default {DEFAULT_INDEX})")
    add.add_argument("--delete", action="append", default=[], metavar="ID", help="also delete this article id")
    add.add_argument(
        "--dtype",
        choices=DTYPE_CHOICES,
        default=None,
        help="passage encoding path (as for build); default: the one the index's vectors came from, else auto",
    )
    add.add_argument("--cache", default=None, help="embedding cache file (default ~/.cache/dateline/...)")
    add.add_argument("--no-cache", action="store_true")
    add.add_argument("--strict", action="store_true", help="any bad record fails the add (index unchanged)")
    add.add_argument("--wait", type=float, default=None, help=WAIT_HELP)
    add.add_argument(
        "--no-merge",
        dest="merge",
        action="store_false",
        help="write the batch as a segment of its own; fold no older segments (compact merges them all)",
    )

    read = sub.add_parser(
        "read", help="print as JSONL the articles a build would index from these inputs (skipped records on stderr)"
    )
    read.add_argument("inputs", nargs="+", help=INPUTS_HELP)

    delete = sub.add_parser("delete", help="delete articles by id")
    delete.add_argument("ids", nargs="+", metavar="ID")
    delete.add_argument("--index", default=DEFAULT_INDEX, help=f"index directory (default {DEFAULT_INDEX})")
    delete.add_argument("--wait", type=float, default=None, help=WAIT_HELP)

    compact = sub.add_parser("compact", help="rewrite the index as one segment, without deleted passages' vectors")
    compact.add_argument("index", nargs="?", default=DEFAULT_INDEX)
    compact.add_argument("--index-type", default=None, help="FAISS spec or auto (default: keep the current type)")
    compact.add_argument("--wait", type=float, default=None, help=WAIT_HELP)

    tune = sub.add_parser(
        "finetune", help="opt-in: adapt the model to an index's archive (headline -> passage pairs); saves a model"
    )
    _finetune_arguments(tune)

    info = sub.add_parser("info", help="print an index's manifest")
    info.add_argument("index", nargs="?", default=DEFAULT_INDEX)
    check = sub.add_parser(
        "check", help="verify that the vector index, lexical index, passage store and manifest agree (exit 1 if not)"
    )
    check.add_argument("index", nargs="?", default=DEFAULT_INDEX)
    return parser


def _build_arguments(build: argparse.ArgumentParser) -> None:
    """The options of `build`: inputs, model, splitting, vector index, cache and engine."""
    build.add_argument("inputs", nargs="+", help=INPUTS_HELP)
    build.add_argument("--index", default=DEFAULT_INDEX, help=f"index directory (default {DEFAULT_INDEX})")
    build.add_argument("--model", default=None, help="model name or sentence-transformers folder (default MiniLM)")
    build.add_argument("--dtype", choices=DTYPE_CHOICES, default="auto", help=DTYPE_HELP)
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


def _finetune_arguments(tune: argparse.ArgumentParser) -> None:
    """The options of `finetune`: the index to draw pairs from, the base model and the training run."""
    tune.add_argument("--index", default=DEFAULT_INDEX, help=f"index to draw pairs from (default {DEFAULT_INDEX})")
    tune.add_argument("--model", default=None, help="base model (default: the one the index was built with)")
    tune.add_argument("--out", default=None, help="where to save the tuned model (default INDEX/models/tuned)")
    tune.add_argument("--pairs", type=int, default=20_000, help="training pairs (default 20,000)")
    tune.add_argument("--epochs", type=int, default=1)
    tune.add_argument("--batch-size", type=int, default=32)
    tune.add_argument("--max-tokens", type=int, default=256, help="passage word-pieces seen in training (default 256)")
    tune.add_argument("--exclude", default=None, help="file of article ids (one a line) never to train on")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    try:
        if args.command == "build":
            return _build(args)
        if args.command == "finetune":
            return _finetune(args)
        if args.command == "info":
            from index.generations import read_json, resolve_generation
            from index.manifest import Manifest

            generation = resolve_generation(Path(args.index))
            Manifest.read(generation)  # refuse another format, as every reader does
            print(json.dumps(read_json(generation), indent=2))
            return 0
        if args.command == "check":
            return _check(args)
        if args.command == "add":
            return _add(args)
        if args.command == "read":
            return _read(args)
        if args.command == "delete":
            from index.update import delete_articles

            report = delete_articles(Path(args.index), args.ids, wait=args.wait)
            print(report.summary(), file=sys.stderr)
            if report.missing:
                print(f"not in the index: {', '.join(report.missing)}", file=sys.stderr)
            return 0 if not report.missing else 1
        if args.command == "compact":
            from index.update import compact

            report = compact(Path(args.index), args.index_type, wait=args.wait)
            if not report.generation:
                print("nothing to compact: no deleted passages", file=sys.stderr)
                return 0
            print(
                f"compacted: dropped {report.deleted:,} deleted rows, kept {report.passages:,} passages "
                f"in {report.seconds:,.1f} s (generation {report.generation})",
                file=sys.stderr,
            )
            return 0
    except (InputError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2


def _build(args: argparse.Namespace) -> int:
    from index.build import build_index
    from index.cache import default_cache_path
    from index.embed import DEFAULT_MODEL, Encoder
    from index.split import SplitSettings

    input_files(args.inputs)  # a missing path or unknown format fails now, not after the model has loaded
    if args.engine == "local" and (args.shards != 1 or args.address or args.actors):
        print("error: --shards, --address and --actors need --engine ray", file=sys.stderr)
        return 2
    if args.engine == "ray" and args.dtype == "openvino-int8":
        print("error: --dtype openvino-int8 calibrates on the whole archive: use --engine local", file=sys.stderr)
        return 2
    if args.engine == "ray":
        from index.distributed import require_ray

        require_ray()  # without Ray, say how to install it now, not after the model has loaded
    try:
        encoder = Encoder(args.model or DEFAULT_MODEL, dtype=args.dtype)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.engine == "ray" and encoder.passages == "openvino-int8":  # auto's pick; it calibrates on one machine
        encoder.skip_calibration()
    settings = SplitSettings(max_tokens=args.max_tokens or encoder.info.max_tokens, overlap_tokens=args.overlap_tokens)
    cache = None if args.no_cache else (Path(args.cache) if args.cache else default_cache_path())
    print(
        f"model {encoder.info.name} ({encoder.info.dim}-d, {encoder.passages}), writing {args.index}", file=sys.stderr
    )
    common = {
        "index_spec": args.index_type,
        "strict": args.strict,
        "progress": not args.no_progress,
        "batch_size": args.batch_size,
    }
    if args.engine == "ray":
        from index.distributed import RayOptions, build_index_ray

        options = RayOptions(address=args.address, actors=args.actors)
        report = build_index_ray(
            args.inputs, Path(args.index), encoder, settings, options=options, shards=args.shards, **common
        )
    else:
        report = build_index(args.inputs, Path(args.index), encoder, settings, cache_path=cache, **common)
    print(report.summary(), file=sys.stderr)
    print(f"index ready: {Path(args.index).resolve()} (generation {report.generation})", file=sys.stderr)
    return 0


def _check(args: argparse.Namespace) -> int:
    from index.check import check_index
    from index.manifest import Manifest

    generation, problems = check_index(Path(args.index))
    if generation is None:
        print(f"error: {problems[0]}", file=sys.stderr)
        return 2
    if problems:
        print(f"error: {generation}: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        print(
            f"restore the generation or rebuild it with: scripts/rebuild-index --index {args.index} ARTICLES...",
            file=sys.stderr,
        )
        return 2
    assert generation is not None
    c = Manifest.read(generation).counts
    pending = f" ({c.deleted:,} deleted, not yet compacted)" if c.deleted else ""
    print(
        f"ok: {generation}: {c.articles:,} articles, {c.passages:,} passages, "
        f"{c.vectors:,} vectors{pending}; vectors, lexical index, store and manifest agree"
    )
    return 0


def _add(args: argparse.Namespace) -> int:
    from index.cache import default_cache_path
    from index.embed import encoder_for_adds
    from index.generations import resolve_generation
    from index.manifest import Manifest
    from index.update import add_files

    input_files(args.inputs)
    try:
        built = Manifest.read(resolve_generation(Path(args.index))).model
        encoder = encoder_for_adds(built, args.dtype, index_dir=Path(args.index))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cache = None if args.no_cache else (Path(args.cache) if args.cache else default_cache_path())
    report = add_files(
        Path(args.index),
        args.inputs,
        encoder,
        cache_path=cache,
        strict=args.strict,
        wait=args.wait,
        delete=args.delete,
        merge=args.merge,
    )
    for problem in bad_input(report.problems)[:SHOW_PROBLEMS]:
        print(problem, file=sys.stderr)
    print(report.summary(), file=sys.stderr)
    return 0


def _read(args: argparse.Namespace) -> int:
    """The articles of `args.inputs` as a build takes them (same readers, same intake), one JSON object a line."""
    from index.articles import read_articles
    from index.intake import Intake, IntakeReport, show_problems, skip_reasons

    input_files(args.inputs)
    report = IntakeReport()
    printed = 0
    for article in Intake(report, show_problems()).accept(read_articles(args.inputs)):
        fields = {"id": article.article_id, "title": article.title, "date": article.date}
        fields |= {"source": article.source, "url": article.url, "text": article.text}
        print(json.dumps(fields, ensure_ascii=False))
        printed += 1
    print(f"read {report.read:,} articles: {printed:,} would be indexed", file=sys.stderr)
    for reason, n in skip_reasons(report.problems):
        print(f"  skipped {n:,}: {reason}", file=sys.stderr)
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from index.embed import model_spec
    from index.finetune import TuneSettings, finetune
    from index.generations import resolve_generation
    from index.manifest import Manifest

    index_dir = Path(args.index)
    built = Manifest.read(resolve_generation(index_dir)).model
    base = args.model or model_spec(built.name, built.path)
    out = Path(args.out) if args.out else index_dir / "models" / "tuned"
    try:
        exclude = Path(args.exclude).read_text(encoding="utf-8").split() if args.exclude else []
    except OSError as exc:
        print(f"error: --exclude {args.exclude}: {exc.strerror}; give a file of article ids", file=sys.stderr)
        return 2
    settings = TuneSettings(
        max_pairs=args.pairs, epochs=args.epochs, batch_size=args.batch_size, max_tokens=args.max_tokens
    )
    try:
        record = finetune(index_dir, base, out, settings, exclude, log=lambda line: print(line, file=sys.stderr))
    except ValueError as exc:  # too few training pairs
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(record, indent=2))
    print(f"tuned model saved: {out.resolve()}\nuse it with: scripts/rebuild-index --model {out} ...", file=sys.stderr)
    return 0
