"""`python -m index build --engine ray`: read, split and embed as a Ray Data pipeline; the driver writes the index.

    input files --read tasks (one per file)--> articles --split tasks--> passages
        --embedding actors (each loads the model once)--> vectors --in input order--> IndexWriter, on the driver

The result is the index directory a local build writes: the same articles, passage ids and rows, the same
lexical index and passage store, vectors equal up to the model's bf16 noise. With `shards=N` it writes N such
directories instead (`<index>/shard-00`, ...), each article in the shard a hash of its id picks, for
search.shards to search in parallel. Only this module imports ray, an optional extra: pip install 'dateline[ray]'.
No embedding cache is read or written here: every passage is embedded by the actors.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index import vectors as vecs
from index.articles import Article, Passage, Problem, Record, input_files, read_file
from index.build import BuildReport, refuse_failed, split_settings
from index.embed import Encoder, Tokenizer, model_spec
from index.errors import BuildFailed
from index.intake import Intake, show_problems
from index.manifest import Origin, Shard
from index.split import SplitSettings, TokenCounter, embedding_text, split_article, title_budget
from index.writer import IndexWriter

RAY_EXTRA = "pip install 'dateline[ray]'"
SHARD_PREFIX = "shard-"


@dataclass(frozen=True, slots=True)
class RayOptions:
    """Where and how wide the pipeline runs."""

    address: str | None = None  # a running cluster (`ray start --head`), or None: a Ray started on this machine
    actors: int | None = None  # embedding actors; default: the cluster's CPUs / cpus_per_actor
    cpus_per_actor: float = 1.0  # also the torch threads each actor uses
    articles_per_batch: int = 64  # articles per split/embed call (~600 passages of news)
    block_bytes: int = 256 * 1024  # Ray Data block size: ~35 news articles, the unit handed to an actor
    ship_code: bool = True  # send this `index` package to the workers (runtime_env py_modules)


def shard_of(article_id: str, shards: int) -> int:
    """The shard an article goes to: stable across builds and machines (sha1 of the id, not Python's hash)."""
    return int.from_bytes(hashlib.sha1(article_id.encode("utf-8")).digest()[:8], "big") % shards


def shard_dirs(index_dir: Path, shards: int) -> list[Path]:
    return [Path(index_dir) / f"{SHARD_PREFIX}{i:02d}" for i in range(shards)]


# --- the pipeline's stages: plain functions and one class, run on the workers -------------------------------


def _row_of(record: Record) -> dict[str, Any]:
    kind = "problem" if isinstance(record, Problem) else "article"
    return {"kind": kind, "record": json.dumps(dataclasses.asdict(record)), "title": "", "passages": "[]"}


def read_stage(item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One input file -> a row per article or problem, in file order (JSON keeps the optional fields stable)."""
    root = Path(item["root"]) if item["root"] else None
    for record in read_file(Path(item["path"]), root):
        yield _row_of(record)


@functools.lru_cache(maxsize=2)
def _tokenizer(spec: str) -> Tokenizer:
    return Tokenizer(spec)  # once per worker process: Ray reuses workers across tasks


def split_stage(batch: dict[str, np.ndarray], model: str, settings: dict[str, int]) -> dict[str, list[Any]]:
    """split_batch with the tokenizer of `model`, loaded once per worker."""
    return split_batch(batch, _tokenizer(model).count_tokens, settings)


def split_batch(batch: dict[str, np.ndarray], count: TokenCounter, settings: dict[str, int]) -> dict[str, list[Any]]:
    """Articles -> their passages' offsets and the title as embedded; an article with no text becomes `empty`."""
    split = SplitSettings(**settings)
    out: dict[str, list[Any]] = {"kind": [], "record": [], "title": [], "passages": []}
    for kind, record in zip(batch["kind"], batch["record"], strict=True):
        title, passages = "", []
        if kind == "article":
            article = Article(**json.loads(record))
            passages = [[p.passage_id, p.n, p.start, p.end] for p in split_article(article, count, split)]
            if passages:
                title, _ = title_budget(article.title, split, count)
            else:
                kind = "empty"
        out["kind"].append(str(kind))
        out["record"].append(str(record))
        out["title"].append(title)
        out["passages"].append(json.dumps(passages))
    return out


class EmbedStage:
    """An embedding actor: loads the model once, then embeds each batch's passages (title + text)."""

    def __init__(self, model: str, dtype: str, threads: int, batch_size: int) -> None:
        import ray

        self.encoder = Encoder(model, dtype=dtype, threads=threads, queries="torch")
        self.batch_size = batch_size
        self.node = str(ray.get_runtime_context().get_node_id())  # reported per row: which nodes embedded

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        return embed_batch(batch, self.encoder, self.batch_size, self.node)


def embed_batch(batch: dict[str, np.ndarray], encoder: Encoder, batch_size: int, node: str) -> dict[str, Any]:
    """Each row with its passages' vectors (float32 bytes), its share of the embedding time, the model and node."""
    texts: list[str] = []
    owners: list[int] = []
    for i, (kind, record, title, passages) in enumerate(
        zip(batch["kind"], batch["record"], batch["title"], batch["passages"], strict=True)
    ):
        if kind != "article":
            continue
        text = json.loads(record)["text"]
        for _, _, start, end in json.loads(passages):
            texts.append(embedding_text(str(title), text[start:end]))
            owners.append(i)
    t0 = time.perf_counter()
    vectors = encoder.documents(texts, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    rows = len(batch["kind"])
    owner = np.array(owners, dtype=np.int64)
    per_row = [vectors[owner == i].astype(np.float32).tobytes() for i in range(rows)]
    share = [seconds * float(np.sum(owner == i)) / max(len(texts), 1) for i in range(rows)]
    return {
        **batch,
        "vectors": per_row,
        "embed_seconds": share,
        "model": [encoder.info.cache_key] * rows,  # the weights and the passage path: what made the vectors
        "node": [node] * rows,
    }


# --- the driver ---------------------------------------------------------------------------------------------


def require_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise BuildFailed(f"--engine ray needs Ray, an optional extra: {RAY_EXTRA}") from exc
    return ray


def connect(options: RayOptions) -> bool:
    """Join the cluster at options.address (or start Ray here); True when this call started the connection."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    runtime_env = {"py_modules": [str(Path(__file__).resolve().parent)]} if options.ship_code else None
    kwargs: dict[str, Any] = {"address": options.address, "runtime_env": runtime_env, "logging_level": logging.WARNING}
    if options.address is None:
        kwargs["include_dashboard"] = False
    try:
        ray.init(**kwargs)
    except ConnectionError as exc:
        raise BuildFailed(
            f"no Ray cluster at {options.address} ({exc}); start one with: ray start --head --port 6379"
        ) from exc
    return True


def source_files(inputs: Sequence[str | Path]) -> list[dict[str, str]]:
    """(file, root) per input file, in the local build's order; root is the folder ids are taken relative to."""
    out = []
    for given in inputs:
        root = str(given) if Path(given).is_dir() else ""
        out += [{"path": str(path), "root": root} for path in input_files([given])]
    return out


def build_index_ray(
    inputs: Sequence[str | Path],
    index_dir: Path,
    encoder: Encoder,
    settings: SplitSettings | None = None,
    index_spec: str = vecs.DEFAULT_SPEC,
    strict: bool = False,
    progress: bool = True,
    batch_size: int = 32,
    options: RayOptions | None = None,
    shards: int = 1,
) -> BuildReport:
    """Build `index_dir` (or `shards` shard indexes under it) on Ray; `encoder` describes the model and fixes its
    dtype, the actors embed. Each index changes only if its build succeeds."""
    options = options or RayOptions()
    settings = split_settings(encoder, settings)
    if shards < 1:
        raise BuildFailed(f"shards must be 1 or more, not {shards}")
    sources = source_files(inputs)  # raises InputError before any work for a missing path or unknown format
    ray = require_ray()
    started = time.perf_counter()
    started_ray = connect(options)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # rows reach the writer in input order: same rows as local
        context.enable_progress_bars = progress
        # Small blocks, so one big input file still feeds every actor (a block goes to one actor). Not a
        # repartition: that stage reserves a CPU and would wait forever behind actors holding every CPU.
        context.target_max_block_size = options.block_bytes
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        actors = options.actors or max(1, int(cpus // options.cpus_per_actor))
        ds = _pipeline(ray, sources, encoder, settings, options, batch_size, cpus, actors)
        return write_rows(
            ds.iter_rows(),
            index_dir,
            encoder,
            settings,
            inputs,
            index_spec=index_spec,
            strict=strict,
            shards=shards,
            build={"engine": "ray", "embed_actors": actors, "ray": str(ray.__version__)},
            started=started,
        )
    finally:
        if started_ray:
            ray.shutdown()


def _pipeline(
    ray: Any,
    sources: list[dict[str, str]],
    encoder: Encoder,
    settings: SplitSettings,
    options: RayOptions,
    batch_size: int,
    cpus: float,
    actors: int,
) -> Any:
    """The Ray Data pipeline: read tasks -> split tasks -> `actors` embedding actors (a Dataset of rows)."""
    model = model_spec(encoder.info.name, encoder.info.path)  # as each node finds it
    # Reading and splitting ask for no CPU of their own: they are a few % of the embedding work, and a stage
    # that reserved a CPU could wait forever behind an actor pool that holds every CPU of the cluster.
    tasks = ray.data.TaskPoolStrategy(size=max(1, int(cpus)))
    ds = ray.data.from_items(sources, override_num_blocks=len(sources))
    ds = ds.flat_map(read_stage, num_cpus=0, compute=tasks)
    ds = ds.map_batches(
        split_stage,
        fn_kwargs={"model": model, "settings": dataclasses.asdict(settings)},
        batch_size=options.articles_per_batch,
        num_cpus=0,
        compute=tasks,
    )
    return ds.map_batches(
        EmbedStage,
        fn_constructor_kwargs={
            "model": model,
            "dtype": encoder.info.passages or encoder.dtype,  # the driver's path, so every actor embeds alike
            "threads": max(1, int(options.cpus_per_actor)),
            "batch_size": batch_size,
        },
        batch_size=options.articles_per_batch,
        num_cpus=options.cpus_per_actor,
        compute=ray.data.ActorPoolStrategy(size=actors),
    )


def write_rows(
    rows: Iterable[dict[str, Any]],
    index_dir: Path,
    encoder: Encoder,
    settings: SplitSettings,
    inputs: Sequence[str | Path],
    index_spec: str = vecs.DEFAULT_SPEC,
    strict: bool = False,
    shards: int = 1,
    build: dict[str, Any] | None = None,
    started: float | None = None,
) -> BuildReport:
    """The driver's half: dedupe and report as the local build does, write each article in input order, commit."""
    started = time.perf_counter() if started is None else started
    report = BuildReport()
    dirs = [Path(index_dir)] if shards == 1 else shard_dirs(Path(index_dir), shards)
    writers: list[IndexWriter] = []
    nodes: dict[str, int] = {}  # node id -> passages its actors embedded
    intake = Intake(report, show_problems())
    try:
        writers += [IndexWriter(d, encoder.dim) for d in dirs]
        for row in rows:
            article = intake.take(_record_of(row))
            if article is None:
                continue
            if row["kind"] == "empty":
                intake.no_text(article)
                continue
            passages, vectors = _embedded(row, article, encoder)
            writers[0 if shards == 1 else shard_of(article.article_id, shards)].add(article, passages, vectors)
            report.indexed += 1
            report.passages += len(passages)
            report.embedded += len(passages)
            report.embed_seconds += float(row["embed_seconds"])
            nodes[str(row["node"])] = nodes.get(str(row["node"]), 0) + len(passages)
        refuse_failed(report, inputs, strict)
        report.seconds = time.perf_counter() - started
        build_id = uuid.uuid4().hex[:12]
        for i, writer in enumerate(writers):
            about = {**report.as_dict(), **(build or {}), "passages_by_node": sorted(nodes.values(), reverse=True)}
            shard = Shard(i, shards, build_id) if shards > 1 else None
            origin = Origin.built(encoder.describe(), settings, {**about, "inputs": [str(p) for p in inputs]}, shard)
            report.generation = writer.commit(origin, index_spec).name
        report.seconds = time.perf_counter() - started
        return report
    except BaseException:
        for writer in writers:
            writer.abort()  # a no-op for a writer that has committed
        raise


def _record_of(row: dict[str, Any]) -> Record:
    """A pipeline row's record: the Problem or the Article (with its text, even when it split into nothing)."""
    record = json.loads(row["record"])
    return Problem(**record) if row["kind"] == "problem" else Article(**record)


def _embedded(row: dict[str, Any], article: Article, encoder: Encoder) -> tuple[list[Passage], np.ndarray]:
    """An article row's passages and their vectors; refused when a worker embedded with another model."""
    expected_model = encoder.info.cache_key
    if row["model"] != expected_model:
        raise BuildFailed(
            f"a worker embedded with model {row['model']}, the driver has {expected_model}: install the "
            "same model package on every node"
        )
    passages = [
        Passage(pid, article.article_id, n, start, end, article.text[start:end])
        for pid, n, start, end in json.loads(row["passages"])
    ]
    return passages, np.frombuffer(row["vectors"], dtype=np.float32).reshape(len(passages), encoder.dim)
