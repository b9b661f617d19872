"""Search latency per stage (p50/p95/p99/mean, ms): in-process Searcher stages, and whole requests over HTTP.

    python benchmarks/latency.py --index data/index [--repeat 3] [--mode dense] [--out FILE.json]

Queries are RealTimeQA's dev questions (question2article; `--split`), or with `--queries judged` the judged
keyword queries of benchmarks/judged/ (where pseudo-relevance feedback runs), one at a time, `--repeat` passes
after a warm-up of 10 queries. The HTTP numbers come from a real uvicorn server (`python -m search serve`) on
127.0.0.1, timed client side with httpx over one keep-alive connection; the server is stopped at the end, whatever
happens.
Latency of an approximate index means little without its recall: run benchmarks/quality.py on the same index.
Over HTTP, GET /coverage (no filters, default mode) is timed for the same queries (`http_coverage` rows), and one
streamed export of every article (/coverage.csv with cut=-1 and collapse=false) gives the export's rows per second.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import (
    DATA_DIR,
    QUESTIONS,
    REPO,
    SPLIT_RULE,
    SPLITS,
    DataError,
    format_table,
    in_split,
    index_facts,
    read_queries,
    summarise,
    write_json,
)
from search.options import SearchOptions

if TYPE_CHECKING:
    from search.searcher import Mode, Searcher

WARMUP = 10
SERVER_START_TIMEOUT_S = 180.0  # loading the model on a busy 2-core machine can take a while


def measure_searcher(
    searcher: Searcher, queries: Sequence[str], repeat: int, k: int, mode: Mode
) -> dict[str, list[float]]:
    """Per-stage samples (ms) from SearchResult.timings_ms, plus `searcher`: the whole call timed here."""
    for query in queries[:WARMUP]:
        searcher.search(query, SearchOptions(k=k, mode=mode))
    samples: dict[str, list[float]] = {}
    for _ in range(repeat):
        for query in queries:
            t0 = time.perf_counter()
            result = searcher.search(query, SearchOptions(k=k, mode=mode))
            total = (time.perf_counter() - t0) * 1e3
            for stage, ms in result.timings_ms.items():
                samples.setdefault(stage, []).append(ms)
            samples.setdefault("searcher", []).append(total)
            # The same search without query interpretation, right after: what reading time and phrases costs
            # in all (the `interpret` stage is the reading alone; the phrase checks fall in `fuse`).
            t0 = time.perf_counter()
            searcher.search(query, SearchOptions(k=k, mode=mode, interpret=False))
            samples.setdefault("searcher interpret=false", []).append((time.perf_counter() - t0) * 1e3)
    return samples


def vector_recall(searcher: Searcher, queries: Sequence[str], k: int = 10) -> float:
    """Mean recall@k of the index's vector search against exact (brute-force) search over its own vectors."""
    import numpy as np

    index = searcher.reader.index
    matrix = index.reconstruct_n(0, index.ntotal)
    hits = []
    for query in queries:
        vector = searcher.encoder.queries([query])
        exact = set(np.argsort(-(matrix @ vector[0]), kind="stable")[:k].tolist())
        found = {row for row, _ in searcher.reader.search(vector, k)[0]}
        hits.append(len(exact & found) / k)
    return float(np.mean(hits))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(index: Path, threads: int) -> Iterator[tuple[str, int]]:
    """Run `python -m search serve` on a free loopback port until healthy; yield its URL and pid; always stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATELINE_THREADS=str(threads))
    cmd = [sys.executable, "-m", "search", "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(proc, url, log)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_healthy(proc: subprocess.Popen[bytes], url: str, log: IO[str]) -> None:
    import httpx

    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read()[-2000:]
            raise RuntimeError(f"the server exited with code {proc.returncode} before answering:\n{tail}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server did not answer {url}/healthz within {SERVER_START_TIMEOUT_S:.0f} s")


def resident_mb(pid: int) -> dict[str, float]:
    """The process's resident memory now and at its peak (MB), from /proc (Linux)."""
    fields: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[{"VmRSS": "rss_mb", "VmHWM": "peak_rss_mb"}[key]] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return fields


def measure_concurrent(url: str, queries: Sequence[str], clients: int, seconds: float, k: int, mode: Mode) -> dict:
    """`clients` threads, each on its own keep-alive connection, send the queries back to back for `seconds`."""
    import threading

    import httpx

    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        mine: list[float] = []
        failed = 0
        with httpx.Client(base_url=url, timeout=60.0) as http:
            i = offset
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                response = http.get("/search", params={"q": queries[i % len(queries)], "k": k, "mode": mode})
                mine.append((time.perf_counter() - t0) * 1e3)
                failed += response.status_code != 200
                i += 1
        with lock:
            latencies.extend(mine)
            failures[0] += failed

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(n * 7,)) for n in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "failed": failures[0],
        "qps": round(len(latencies) / elapsed, 1),
        "latency_ms": summarise(latencies),
    }


def measure_http(url: str, queries: Sequence[str], repeat: int, k: int, mode: Mode) -> dict[str, list[float]]:
    """Client-side request time (ms), and the server's own `took_ms` for the same requests."""
    import httpx

    samples: dict[str, list[float]] = {"http": [], "http_server_took": []}
    with httpx.Client(base_url=url, timeout=60.0) as client:

        def get(query: str) -> tuple[float, float]:
            t0 = time.perf_counter()
            response = client.get("/search", params={"q": query, "k": k, "mode": mode})
            elapsed = (time.perf_counter() - t0) * 1e3
            if response.status_code != 200:
                raise RuntimeError(f"GET /search answered {response.status_code}: {response.text[:300]}")
            return elapsed, float(response.json()["took_ms"])

        for query in queries[:WARMUP]:
            get(query)
        for _ in range(repeat):
            for query in queries:
                elapsed, took = get(query)
                samples["http"].append(elapsed)
                samples["http_server_took"].append(took)
    return samples


def measure_coverage(url: str, queries: Sequence[str], repeat: int) -> dict[str, list[float]]:
    """GET /coverage (no filters, the default mode and interval) for the same queries: client time and `took_ms`."""
    import httpx

    samples: dict[str, list[float]] = {"http_coverage": [], "http_coverage_server_took": []}
    with httpx.Client(base_url=url, timeout=60.0) as client:
        for n, query in enumerate([*queries[:WARMUP], *(q for _ in range(repeat) for q in queries)]):
            t0 = time.perf_counter()
            response = client.get("/coverage", params={"q": query})
            elapsed = (time.perf_counter() - t0) * 1e3
            if response.status_code != 200:
                raise RuntimeError(f"GET /coverage answered {response.status_code}: {response.text[:300]}")
            if n >= min(WARMUP, len(queries)):
                samples["http_coverage"].append(elapsed)
                samples["http_coverage_server_took"].append(float(response.json()["took_ms"]))
    return samples


def measure_export(url: str, query: str) -> dict[str, Any]:
    """The whole index as one streamed CSV export (cut -1 and collapse=false: every article matches): rows per
    second over the whole request, and over the stream after its first byte (the matching is done before it)."""
    import httpx

    params = {"q": query, "cut": -1, "collapse": "false"}
    t0 = time.perf_counter()
    first = None
    rows = -1  # the header line
    with httpx.Client(base_url=url, timeout=600.0) as client, client.stream("GET", "/coverage.csv", params=params) as r:
        if r.status_code != 200:
            raise RuntimeError(f"GET /coverage.csv answered {r.status_code}")
        for chunk in r.iter_text():
            first = time.perf_counter() if first is None else first
            rows += chunk.count("\n")
    end = time.perf_counter()
    streamed = end - (first or t0)
    return {
        "query": query,
        "rows": rows,
        "seconds": round(end - t0, 2),
        "first_byte_s": round((first or end) - t0, 2),
        "rows_per_s": round(rows / (end - t0)),
        "streamed_rows_per_s": round(rows / streamed) if streamed > 0 else None,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True, help="index folder (holding current/)")
    p.add_argument("--data", type=Path, default=DATA_DIR, help=f"the realtimeqa folder (default {DATA_DIR})")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON report: a file, or a folder to write latency-<time>.json in (default benchmarks/out/)",
    )
    p.add_argument("--split", choices=SPLITS, default="dev", help=f"questions to time (default dev; {SPLIT_RULE})")
    p.add_argument(
        "--queries",
        choices=("questions", "judged"),
        default="questions",
        help="RealTimeQA's questions (default), or the judged keyword queries of benchmarks/judged/",
    )
    p.add_argument("--repeat", type=int, default=3, help="passes over the queries (default 3)")
    p.add_argument("-k", type=int, default=10, help="hits per query (default 10)")
    p.add_argument(
        "--mode",
        choices=("dense", "lexical", "hybrid"),
        default=None,
        help="retrieval mode (default: hybrid when the index has a lexical index, else dense)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch/FAISS threads, in-process and in the server")
    p.add_argument("--no-http", action="store_true", help="skip the HTTP server measurement")
    p.add_argument("--concurrency", type=int, default=8, help="clients for the QPS run over HTTP (0: skip)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the QPS run")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.threads < 1 or not 1 <= args.k <= 100:
        p.error("--repeat and --threads must be at least 1, and -k between 1 and 100")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from index import vectors
    from index.errors import StoreError
    from search.searcher import Searcher

    try:
        if args.queries == "judged":  # keyword queries, where pseudo-relevance feedback runs (docs/queries.md)
            from benchmarks.queries import read_judged

            queries = [q.query for q in read_judged() if args.split in ("all", q.split)]
        else:
            questions = read_queries(args.data / f"{QUESTIONS}.queries.tsv")
            queries = [q for qid, q in questions.items() if in_split(qid, args.split)]
        vectors.set_threads(args.threads)
        searcher = Searcher.open(args.index, threads=args.threads)
    except (DataError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    manifest = searcher.reader.manifest
    mode: Mode = args.mode or ("hybrid" if searcher.has_lexical else "dense")
    try:
        samples = measure_searcher(searcher, queries, args.repeat, args.k, mode)
        recall = 1.0 if manifest.index.type == "Flat" else vector_recall(searcher, queries)
    finally:
        searcher.close()  # free the model before the server loads its own
    server_start_s = None
    concurrent: dict[str, Any] | None = None
    export: dict[str, Any] | None = None
    memory: dict[str, float] = {}
    if not args.no_http:
        try:
            t0 = time.perf_counter()
            with serving(args.index, args.threads) as (url, pid):
                server_start_s = round(time.perf_counter() - t0, 2)
                samples |= measure_http(url, queries, args.repeat, args.k, mode)
                samples |= measure_coverage(url, queries, args.repeat)
                export = measure_export(url, queries[0])
                if args.concurrency:
                    concurrent = measure_concurrent(url, queries, args.concurrency, args.seconds, args.k, mode)
                memory = resident_mb(pid)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    stages = {stage: summarise(values) for stage, values in samples.items()}
    print(
        f"index {args.index}: {searcher.reader.passages} passages ({manifest.index.type}); "
        f"model {manifest.model.name}; mode {mode}; k {args.k}; {len(queries)} queries x {args.repeat}; "
        f"{args.threads} thread(s); vector search recall@10 against exact: {recall:.4f}"
    )
    headers = ["stage (ms)", "count", "p50", "p95", "p99", "mean"]
    print(format_table(headers, [[stage, *s.values()] for stage, s in stages.items()]))
    if concurrent:
        lat = concurrent["latency_ms"]
        print(
            f"HTTP at {concurrent['clients']} concurrent clients for {concurrent['seconds']} s: "
            f"{concurrent['qps']} queries/s, {concurrent['failed']} failed of {concurrent['requests']}; "
            f"p50 {lat['p50']} ms, p99 {lat['p99']} ms"
        )
    if export:
        print(
            f"export: {export['rows']} rows of /coverage.csv in {export['seconds']} s ({export['rows_per_s']} rows/s); "
            f"first byte after {export['first_byte_s']} s, then {export['streamed_rows_per_s']} rows/s"
        )
    if memory:
        print(f"server resident memory: {memory.get('rss_mb')} MB (peak {memory.get('peak_rss_mb')} MB)")
    report: dict[str, Any] = {
        "benchmark": "latency",
        "vector_recall@10": recall,
        "concurrent_http": concurrent,
        "coverage_export": export,
        "server_memory": memory,
        **index_facts(searcher, args.index),
        "mode": mode,
        "k": args.k,
        "queries": len(queries),
        "split": args.split,
        "repeat": args.repeat,
        "warmup": WARMUP,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "server_start_s": server_start_s,
        "stages_ms": stages,
    }
    print(f"(wrote {write_json(report, args.out, 'latency')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
