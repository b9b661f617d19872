"""On a real two-node Ray cluster (loopback): `build --engine ray` writes what the local build writes, for real news.

The slice: the 77 articles the RealTimeQA dev questions cite plus the corpus's first 123 others (200 articles,
about 1,400 passages), so the dev questions have their answers in it. The local build embeds them in this
process (a fresh cache, not the user's), the Ray build in two embedding actors, one per node; both in float32
(see fp32_encoder).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.data import DATA_DIR, asked_on, in_split, read_qrels, read_queries
from index.build import build_index
from index.distributed import shard_of
from search.searcher import Searcher, SearchOptions
from search.shards import ShardedReader
from tests.fakes import Closes, OpenReader, real_articles, write_jsonl
from tests.ray_cluster import LocalCluster, free_port, local_cluster

pytestmark = pytest.mark.slow
pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]'")

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 600  # seconds for the Ray build of the slice (about 1 minute here)
FILLER = 123  # articles from the head of the corpus besides the dev questions' own
MIN_COSINE = 0.999
SERVE_TIMEOUT = 240  # seconds for two replicas to load the index and the model
SERVE_STATUS = (
    "import ray, sys; from ray import serve; ray.init(address=sys.argv[1], logging_level='ERROR'); "
    "d = serve.status().applications['dateline'].deployments['Dateline']; "
    "print(*[f'{getattr(k, \"value\", k)} {v}' for k, v in d.replica_states.items()])"
)


@dataclass
class Builds:
    local: Path
    ray: Path
    cache: Path
    slice_records: list[dict[str, Any]]
    local_seconds: float
    ray_seconds: float


def dev_questions() -> list[tuple[str, str, Any]]:
    queries = read_queries(DATA_DIR / "question2article.queries.tsv")
    return [(qid, q, asked_on(qid)) for qid, q in queries.items() if in_split(qid, "dev")]


@pytest.fixture(scope="module")
def cluster(shared_data: Path) -> Iterator[LocalCluster]:
    """Two Ray nodes of one CPU each on loopback, for this module's tests; stopped (bounded) at its end."""
    with local_cluster(nodes=2, cpus_per_node=1) as running:
        yield running


@pytest.fixture(scope="module")
def fp32_encoder(shared_data: Path) -> Any:
    """The model in float32. bf16 vectors depend on their batch mates' lengths (padding; ~1e-3 per component,
    cosine still >= 0.9999), enough to swap near-ties; fp32 ones differ by ~1e-7, so the two builds' rankings
    can be compared exactly. docs/distributed.md gives the bf16 figures."""
    from index.embed import Encoder

    return Encoder(dtype="float32")


@pytest.fixture(scope="module")
def builds(cluster: LocalCluster, fp32_encoder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    work = tmp_path_factory.mktemp("ray")
    qrels = read_qrels(DATA_DIR / "question2article.qrels.tsv")
    cited = {doc for qid, docs in qrels.items() if in_split(qid, "dev") for doc in docs}
    head = {a.article_id for a in real_articles(FILLER, where=lambda a: a.article_id not in cited)}
    articles = real_articles(10**6, where=lambda a: a.article_id in cited or a.article_id in head)
    records = [
        {"id": a.article_id, "title": a.title, "text": a.text, "date": a.date, "source": a.source, "url": a.url}
        for a in articles
    ]
    slice_file = write_jsonl(work / "slice.jsonl", records)

    t0 = time.perf_counter()
    build_index([slice_file], work / "local", fp32_encoder, cache_path=work / "cache.sqlite3", progress=False)
    local_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    argv = ["build", str(slice_file), "--index", str(work / "ray"), "--engine", "ray", "--address", cluster.address]
    argv += ["--dtype", "float32"]
    run = subprocess.run(
        [sys.executable, "-m", "index", *argv, "--no-progress"],
        cwd=ROOT,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    ray_seconds = time.perf_counter() - t0
    assert run.returncode == 0, run.stderr[-5000:]
    print(f"\nslice of {len(records)} articles: local build {local_seconds:.1f} s, ray build {ray_seconds:.1f} s")
    yield Builds(work / "local", work / "ray", work / "cache.sqlite3", records, local_seconds, ray_seconds)


def test_the_slice_holds_every_article_the_dev_questions_cite(builds: Builds) -> None:
    qrels = read_qrels(DATA_DIR / "question2article.qrels.tsv")
    cited = {doc for qid, docs in qrels.items() if in_split(qid, "dev") for doc in docs}
    assert cited <= {r["id"] for r in builds.slice_records} and len(builds.slice_records) == len(cited) + FILLER


def test_the_ray_build_ran_on_two_nodes_with_an_embedding_actor_on_each(
    builds: Builds, open_reader: OpenReader
) -> None:
    build = open_reader(builds.ray).manifest.build
    # Two actors of one CPU each on a cluster of two one-CPU nodes: one actor per node, and both embedded.
    assert build["engine"] == "ray" and build["embed_actors"] == 2
    assert len(build["passages_by_node"]) == 2 and sum(build["passages_by_node"]) == build["passages"]
    print(f"\npassages embedded per node: {build['passages_by_node']}")
    assert build["embedded"] == build["passages"] and build["cached"] == 0  # every vector came from the actors


def test_the_ray_build_has_the_local_build_s_passage_ids_texts_and_rows(
    builds: Builds, open_reader: OpenReader
) -> None:
    local, ray = open_reader(builds.local), open_reader(builds.ray, verify=True)
    assert local.passages > 1000
    assert list(ray.iter_passages()) == list(local.iter_passages())


def test_the_ray_build_s_vectors_agree_with_the_local_build_s(builds: Builds, open_reader: OpenReader) -> None:
    local, ray = open_reader(builds.local), open_reader(builds.ray)
    rows = range(local.passages)
    cosines = np.sum(local.vectors(rows) * ray.vectors(rows), axis=1)
    print(f"\ncosine ray vs local over {len(cosines)} passages: min {cosines.min():.6f}, mean {cosines.mean():.6f}")
    assert cosines.min() >= MIN_COSINE


def test_the_ray_index_has_the_local_manifest_s_model_counts_and_files(builds: Builds, open_reader: OpenReader) -> None:
    a, b = open_reader(builds.local).manifest, open_reader(builds.ray).manifest
    for key in ("model", "splitter", "dim", "counts", "index", "lexical"):
        assert getattr(b, key) == getattr(a, key), key
    segments = re.compile(r"lexical/[0-9a-f]{32}\.")  # tantivy names its segments at random

    def names(files: Mapping[str, Any]) -> list[str]:
        return sorted(segments.sub("lexical/SEGMENT.", name) for name in files)

    assert names(b.files) == names(a.files)


@pytest.mark.parametrize("mode", ["dense", "hybrid", "lexical"])
def test_the_dev_questions_get_the_same_top_10_from_both_builds(
    builds: Builds, fp32_encoder: Any, mode: str, open_reader: OpenReader
) -> None:
    local, ray = Searcher(open_reader(builds.local), fp32_encoder), Searcher(open_reader(builds.ray), fp32_encoder)
    questions = dev_questions()
    same = 0
    for _, query, day in questions:
        a = [h.passage.passage_id for h in local.search(query, SearchOptions(k=10, mode=mode, as_of=day)).hits]
        b = [h.passage.passage_id for h in ray.search(query, SearchOptions(k=10, mode=mode, as_of=day)).hits]
        assert len(a) == 10
        same += a == b
    print(f"\n{mode}: {same} of {len(questions)} dev questions have the same top 10")
    assert same == len(questions)


def test_two_shards_of_the_slice_give_one_index_s_dense_top_10_exactly(
    builds: Builds, fp32_encoder: Any, tmp_path: Path, open_reader: OpenReader, closes: Closes
) -> None:
    """Shards built from the same vectors (the local build's cache): dense ids and scores equal; BM25 measured."""
    parts = []
    for shard in range(2):
        part = write_jsonl(
            tmp_path / f"{shard}.jsonl", [r for r in builds.slice_records if shard_of(r["id"], 2) == shard]
        )
        report = build_index(
            [part], tmp_path / f"shard-{shard:02d}", fp32_encoder, cache_path=builds.cache, progress=False
        )
        assert report.embedded == 0  # every vector is the one the single index holds
        parts.append(tmp_path / f"shard-{shard:02d}")
    single = Searcher(open_reader(builds.local), fp32_encoder)
    sharded = Searcher(closes(ShardedReader.open(parts)), fp32_encoder)
    agreement: dict[str, list[float]] = {"lexical": [], "hybrid": []}
    for _, query, day in dev_questions():
        for group in ("passage", "article"):
            a = [
                (h.passage.passage_id, h.score)
                for h in single.search(query, SearchOptions(k=10, mode="dense", group=group)).hits
            ]
            b = [
                (h.passage.passage_id, h.score)
                for h in sharded.search(query, SearchOptions(k=10, mode="dense", group=group)).hits
            ]
            assert b == a
        for mode, found in agreement.items():
            a_ids = {h.passage.passage_id for h in single.search(query, SearchOptions(k=10, mode=mode, as_of=day)).hits}
            b_ids = {
                h.passage.passage_id for h in sharded.search(query, SearchOptions(k=10, mode=mode, as_of=day)).hits
            }
            found.append(len(a_ids & b_ids) / 10)
    print(
        "\n2 shards vs one index, mean top-10 overlap: "
        + ", ".join(f"{m} {np.mean(v):.3f}" for m, v in agreement.items())
    )


def test_two_serve_replicas_answer_on_one_endpoint_as_the_index_does(
    builds: Builds, cluster: LocalCluster, fp32_encoder: Any, tmp_path: Path, open_reader: OpenReader
) -> None:
    """`python -m search.replicas` on the cluster: two Serve replicas of the app behind one HTTP port."""
    import httpx

    port = free_port()
    argv = ["--index", str(builds.ray), "--replicas", "2", "--address", cluster.address, "--port", str(port)]
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "search.replicas", *argv],
            cwd=ROOT,
            env=cluster.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVE_TIMEOUT
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        status = subprocess.run(
            [sys.executable, "-c", SERVE_STATUS, cluster.address],
            env=cluster.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        assert status.splitlines()[-1] == "RUNNING 2", status
        local = Searcher(open_reader(builds.ray), fp32_encoder)
        for _, query, day in dev_questions()[:10]:
            params = {"q": query, "k": 10, "mode": "dense", "as_of": day.isoformat()}
            hits = httpx.get(f"{url}/search", params=params, timeout=30).json()["hits"]
            expected = local.search(query, SearchOptions(k=10, mode="dense", as_of=day)).hits
            assert [h["passage_id"] for h in hits] == [h.passage.passage_id for h in expected]
            assert [h["score"] for h in hits] == pytest.approx([h.score for h in expected], abs=1e-5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
