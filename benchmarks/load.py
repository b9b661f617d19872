"""Searches under load while the archive changes: no request may fail, and everything added must be findable.

    python benchmarks/load.py --index IDX --inputs IDX-INPUTS... --work DIR [--seconds 60] [--clients 32] [--add 1000]
    python benchmarks/load.py --index IDX --work DIR --stream 100x10 [--every 2] [--via http|cli] [--embed]

Copies the index IDX to DIR/index (IDX is only read), serves the copy with `python -m search serve` on 127.0.0.1
(writes enabled with a throwaway key), and keeps `--clients` concurrent clients asking RealTimeQA's dev
questions (GET /search, hybrid, k=10) for `--seconds`. Meanwhile, from second 5: `--add` articles from the corpus
that the index does not hold are POSTed in batches of `--batch`; then a full rebuild of the index (its inputs
plus the added articles, written to DIR/added.jsonl) runs in another process and is swapped in under the running
service. If the writers are not done at `--seconds`, the load runs on until they are, plus 5 s (the report
says how long).
`--stream NxM` instead adds N batches of M such articles, one batch started every `--every` seconds on a fixed
clock, each in its own thread whether or not the ones before have returned (`--sequential`: each waits for the
one before, so an add that overruns its slot delays the next; the report gives each add's lateness either way),
and no rebuild. `--via http` (the default) POSTs each batch, as a newsroom's feed would: the service writes and
reloads before it answers. `--via cli` runs `python -m index add` in another process per batch: the service's
watcher notices `current` moving. After each add returns, every article of its batch is polled until it is
served; the lag from the add's return to the answer of the check that found it is reported per batch (max,
p50, p95), beside the add durations, the generations the adds' answers name (the service groups adds that
arrive while one is written into one generation) and the service's generation loads (from /metrics).
An index holding every corpus article (the whole corpus) gets held articles again under new ids (`load-<id>`):
their vectors come from the embedding cache unless `--embed` turns it off for the service and `index add`.
Afterwards every added article must be served: GET /articles/{id}, and a lexical search for its title within its
day returns it. Prints a table (requests, failed, QPS, p50/p95/p99 overall and per phase) and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import lzma
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import DATA_DIR, QUESTIONS, REPO, format_table, in_split, read_queries, summarise, write_json
from benchmarks.latency import free_port, resident_mb, wait_healthy
from search.settings import MAX_BATCH

START_WRITES_S = 5.0
MAX_SECONDS = 900  # the load never runs longer than this, writers done or not
AFTER_S = 5.0  # load kept on after the rebuild's swap, to measure the new generation


NEW_ID = "load-"  # the prefix of a held article's copy, added when the corpus has too few the index lacks


def new_articles(corpus: Path, have: set[str], n: int) -> list[dict[str, Any]]:
    """The first `n` dated articles of the corpus with an id the index does not hold (in corpus order); when
    there are fewer (an index of the whole corpus), held ones follow under new ids (NEW_ID + id)."""
    new: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    with lzma.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if not record.get("publish_date") or not record.get("text", "").strip():
                continue
            article = {k: record.get(k) for k in ("doc_id", "title", "text", "publish_date", "source", "url")}
            if article["doc_id"] not in have:
                new.append(article)
            elif len(held) < n and NEW_ID + article["doc_id"] not in have:
                held.append({**article, "doc_id": NEW_ID + article["doc_id"]})
            if len(new) >= n:
                break
    return [*new, *held][:n]


def stored_ids(index: Path) -> set[str]:
    from index.reader import IndexReader

    reader = IndexReader(index)
    try:
        return reader.article_ids()
    finally:
        reader.close()


class Phases:
    """What the writers are doing now; each request is filed under the phase it started in."""

    def __init__(self) -> None:
        self.now = "before writes"
        self.marks: list[tuple[str, float]] = []
        self.done_at: float | None = None  # seconds from t0 when the writers finished

    def enter(self, phase: str, t0: float) -> None:
        self.now = phase
        self.marks.append((phase, round(time.perf_counter() - t0, 2)))

    def finish(self, phase: str, t0: float) -> None:
        """The writers are done: `phase` is what the load measures from here on."""
        self.enter(phase, t0)
        self.done_at = self.marks[-1][1]


async def clients(
    url: str, queries: list[str], n: int, stop: asyncio.Event, phases: Phases
) -> list[tuple[str, float, str]]:
    """(phase, ms, outcome) per request; outcome "ok" or why it failed."""
    import httpx

    samples: list[tuple[str, float, str]] = []
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as http:

        async def one_client() -> None:
            while not stop.is_set():
                q = rng.choice(queries)
                phase = phases.now
                t = time.perf_counter()
                try:
                    r = await http.get("/search", params={"q": q, "k": 10})
                    outcome = (
                        "ok" if r.status_code == 200 and r.json()["hits"] else f"HTTP {r.status_code}: {r.text[:200]}"
                    )
                except httpx.HTTPError as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                samples.append((phase, (time.perf_counter() - t) * 1e3, outcome))

        await asyncio.gather(*(one_client() for _ in range(n)))
    return samples


def writers(
    url: str,
    key: str,
    articles: list[dict[str, Any]],
    batch: int,
    rebuild: list[str],
    log: Path,
    phases: Phases,
    t0: float,
) -> dict[str, Any]:
    """POST the articles in batches, then rebuild-and-swap in another process; returns what happened."""
    import httpx

    out: dict[str, Any] = {"posts": [], "rebuild": None}
    time.sleep(START_WRITES_S)
    phases.enter("adding", t0)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=600.0, headers=headers) as http:
        for i in range(0, len(articles), batch):
            t = time.perf_counter()
            r = http.post("/articles", json={"articles": articles[i : i + batch]})
            body = r.json()
            out["posts"].append(
                {
                    "status": r.status_code,
                    "seconds": round(time.perf_counter() - t, 2),
                    **{k: body.get(k) for k in ("added", "updated", "unchanged", "passages", "embedded", "generation")},
                }
            )
            if r.status_code != 200:
                out["error"] = f"POST /articles: HTTP {r.status_code}: {r.text[:500]}"
                return out
    phases.enter("rebuilding", t0)
    t = time.perf_counter()
    with open(log, "w") as f:
        done = subprocess.run(rebuild, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    out["rebuild"] = {"exit": done.returncode, "seconds": round(time.perf_counter() - t, 1), "log": str(log)}
    phases.finish("after rebuild", t0)
    return out


POLL_S = 0.05  # between checks of an added article that is not served yet
POLL_GIVE_UP_S = 120.0  # an article not served this long after its add returned is reported as never served


def parse_stream(text: str) -> tuple[int, int]:
    """ "100x10" -> (100 batches, 10 articles each)."""
    try:
        batches, size = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--stream wants BATCHESxSIZE, like 100x10, not {text!r}") from None
    if batches < 1 or size < 1:
        raise argparse.ArgumentTypeError("--stream: batches and size must be at least 1")
    return batches, size


def post_batch(http: Any, batch: list[dict[str, Any]]) -> dict[str, Any]:
    """One add through the API (the service writes, reloads, then answers)."""
    r = http.post("/articles", json={"articles": batch})
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    out = {"status": r.status_code, **{k: body.get(k) for k in ("added", "passages", "embedded", "generation")}}
    return out if r.status_code == 200 else {**out, "error": f"POST /articles: HTTP {r.status_code}: {r.text[:500]}"}


def cli_batch(index: Path, batch: list[dict[str, Any]], folder: Path, log: Path, embed: bool) -> dict[str, Any]:
    """One add by `python -m index add` in another process (the service's watcher picks the new generation up)."""
    batch_file = folder / "batch.jsonl"
    batch_file.write_text("".join(json.dumps(a) + "\n" for a in batch), encoding="utf-8")
    with open(log, "a") as f:
        done = subprocess.run(
            [sys.executable, "-m", "index", "add", "--index", str(index), str(batch_file), *(["--no-cache"] * embed)],
            cwd=REPO,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    out: dict[str, Any] = {"status": done.returncode}
    return out if done.returncode == 0 else {**out, "error": f"index add exited {done.returncode}: see {log}"}


def seconds_until_served(http: Any, article: dict[str, Any], since: float) -> float | None:
    """Seconds from `since` (its add's return) to the answer of the first check that found the article served;
    None if it still is not after POLL_GIVE_UP_S."""
    while True:
        found = served(http, article) is None
        waited = time.perf_counter() - since
        if found:
            return waited
        if waited > POLL_GIVE_UP_S:
            return None
        time.sleep(POLL_S)


def stream(
    url: str,
    key: str,
    add: Callable[[Any, list[dict[str, Any]]], dict[str, Any]],
    articles: list[dict[str, Any]],
    size: int,
    every: float,
    phases: Phases,
    t0: float,
    sequential: bool = False,
) -> dict[str, Any]:
    """Add `articles` in batches of `size`, one started every `every` s on a fixed clock, each in its own thread
    whether or not the ones before have returned (`sequential`: each waits for the one before, so an overrunning
    add delays the next); after each add returns, poll its articles concurrently until served. Returns the adds
    (in start order) with their lags."""
    import httpx

    batches = [articles[first : first + size] for first in range(0, len(articles), size)]
    time.sleep(START_WRITES_S)
    phases.enter("streaming adds", t0)
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=len(batches) + 8 * size, max_keepalive_connections=8 * size)
    with (
        httpx.Client(base_url=url, timeout=600.0, headers=headers, limits=limits) as http,
        ThreadPoolExecutor(max_workers=8 * size) as pollers,
        ThreadPoolExecutor(max_workers=len(batches)) as adders,
    ):

        def one(batch: list[dict[str, Any]], due: float) -> dict[str, Any]:
            began = time.perf_counter()
            done = add(http, batch)
            returned = time.perf_counter()
            lags = [] if "error" in done else [pollers.submit(seconds_until_served, http, a, returned) for a in batch]
            timing = {"at_s": round(began - t0, 2), "late_s": round(began - due, 2)}
            return {**timing, "seconds": round(returned - began, 2), **done, "lags": lags}

        started: list[Future[dict[str, Any]]] = []
        start = time.perf_counter()
        for i, batch in enumerate(batches):
            due = start + i * every
            time.sleep(max(0.0, due - time.perf_counter()))
            if sequential and started:
                started[-1].result()
            if any(f.done() and "error" in f.result() for f in started):
                break  # an add failed: start no more, the report says why
            started.append(adders.submit(one, batch, due))
        adds = [f.result() for f in started]
        for record in adds:
            lags = [f.result() for f in record.pop("lags")]
            record["lag_s"] = None if not lags or None in lags else round(max(lags), 2)  # type: ignore[type-var]
    phases.finish("after adds", t0)
    return {"adds": adds, "error": next((a["error"] for a in adds if "error" in a), None)}


def reload_stats(metrics: str) -> dict[str, Any]:
    """The service's generation loads from its /metrics text: how many, mean seconds, and the bucket bound the
    slowest stayed under."""
    found = dict(re.findall(r"^dateline_reload_seconds_(count|sum) (\S+)$", metrics, re.M))
    count = int(float(found.get("count", 0)))
    buckets = [
        (float(le), float(n))
        for le, n in re.findall(r'^dateline_reload_seconds_bucket\{le="([^"+]+)"\} (\S+)$', metrics, re.M)
    ]
    slowest_under = min((le for le, n in buckets if n >= count), default=None) if count else None
    mean = round(float(found["sum"]) / count, 3) if count else None
    return {"count": count, "mean_s": mean, "max_under_s": slowest_under}


def served(http: Any, article: dict[str, Any]) -> str | None:
    """None when the article is served (by id, and a lexical search for its title on its day returns it), else
    which check failed: "not_served" or "not_found_by_title"."""
    from index.articles import normalise_date

    if http.get(f"/articles/{article['doc_id']}").status_code != 200:
        return "not_served"
    day = normalise_date(article["publish_date"])
    params = {"q": article["title"] or article["text"][:200], "mode": "lexical", "k": 100, "from": day, "to": day}
    # collapse off: a copy under a new id must be found itself, not folded under its near-duplicate original
    hits = http.get("/search", params={**params, "recency": 0, "collapse": "false"}).json()["hits"]
    return None if article["doc_id"] in {h["article_id"] for h in hits} else "not_found_by_title"


def verify(url: str, articles: list[dict[str, Any]]) -> dict[str, Any]:
    """Every added article is served: by id, and by a lexical search for its title on its day."""
    import httpx

    missing: dict[str, list[str]] = {"not_served": [], "not_found_by_title": []}
    with httpx.Client(base_url=url, timeout=60.0) as http:
        for a in articles:
            why = served(http, a)
            if why is not None:
                missing[why].append(a["doc_id"])
    return {"checked": len(articles), **missing}


def load_while(
    url: str, queries: list[str], n: int, seconds: float, write: Callable[[], None], phases: Phases, t0: float
) -> list[tuple[str, float, str]]:
    """Run `write` in a thread while `n` clients search: at least `seconds`, and on until the writers are done plus
    AFTER_S (at most MAX_SECONDS; at once if the writers fail)."""
    thread = threading.Thread(target=write)
    thread.start()

    async def run() -> list[tuple[str, float, str]]:
        stop = asyncio.Event()

        async def stopper() -> None:
            while True:
                now = time.perf_counter() - t0
                done = phases.done_at
                if now >= MAX_SECONDS or (now >= seconds and done is not None and now >= done + AFTER_S):
                    break
                if not thread.is_alive() and done is None:
                    break  # the writers failed: stop, the report says why
                await asyncio.sleep(0.2)
            stop.set()

        samples, _ = await asyncio.gather(clients(url, queries, n, stop, phases), stopper())
        return samples

    samples = asyncio.run(run())
    thread.join()
    return samples


def stream_summary(adds: list[dict[str, Any]], size: int, every: float) -> dict[str, Any]:
    """The adds' durations and lateness, and the lag until their articles were served (seconds)."""
    lags = [a["lag_s"] for a in adds if a.get("lag_s") is not None]
    return {
        "batches": len(adds),
        "size": size,
        "every_s": every,
        "add_seconds": summarise([a["seconds"] for a in adds])
        | {"max": max((a["seconds"] for a in adds), default=None)},
        "late_adds": sum(a["late_s"] > 0.05 for a in adds),
        "late_s": summarise([a["late_s"] for a in adds]) | {"max": max((a["late_s"] for a in adds), default=None)},
        "max_late_s": max((a["late_s"] for a in adds), default=None),
        "generations": len({a["generation"] for a in adds if a.get("generation")}) or None,
        "lag_s": summarise(lags) | {"max": max(lags, default=None)},
        "batches_never_served": sum(a.get("lag_s") is None for a in adds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="index to copy (read only)")
    parser.add_argument("--inputs", nargs="+", help="the article files the index was built from (for the rebuild)")
    parser.add_argument("--work", type=Path, required=True, help="folder for the copy, the added articles and logs")
    parser.add_argument("--corpus", type=Path, default=DATA_DIR / "corpus.jsonl.xz")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--add", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--stream", type=parse_stream, default=None, metavar="NxM", help="N adds of M articles, no rebuild"
    )
    parser.add_argument("--every", type=float, default=2.0, help="--stream: seconds between the adds' starts")
    parser.add_argument("--via", choices=("http", "cli"), default="http", help="--stream: POST /articles or index add")
    parser.add_argument(
        "--sequential", action="store_true", help="--stream: start each add only after the one before returned"
    )
    parser.add_argument(
        "--embed", action="store_true", help="no embedding cache: every added passage is embedded, as new text would be"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.stream is None and not args.inputs:
        parser.error("--inputs is needed for the rebuild (or give --stream)")
    if args.stream is not None:
        args.add, args.batch = args.stream[0] * args.stream[1], args.stream[1]

    queries = [q for qid, q in read_queries(DATA_DIR / f"{QUESTIONS}.queries.tsv").items() if in_split(qid, "dev")]
    index = args.work / "index"
    if index.exists():
        shutil.rmtree(index)
    args.work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(args.index, index, symlinks=True, ignore=shutil.ignore_patterns(".write.lock"))
    articles = new_articles(args.corpus, stored_ids(index), args.add)
    print(f"{len(queries)} dev questions, {len(articles)} articles to add, {args.clients} clients", file=sys.stderr)

    key = secrets.token_hex(16)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # DATELINE_MAX_BATCH also bounds the articles one grouped write takes: keep the default unless a batch needs more.
    max_batch = str(max(args.batch, MAX_BATCH))
    env = dict(os.environ, DATELINE_API_KEY=key, DATELINE_RELOAD_SECONDS="1", DATELINE_MAX_BATCH=max_batch)
    if args.embed:
        env["DATELINE_CACHE"] = "off"
    cmd = [sys.executable, "-m", "search", "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    report: dict[str, Any] = {
        "index": str(args.index),
        "clients": args.clients,
        "target_seconds": args.seconds,
        "embedding_cache": not args.embed,
    }
    result: dict[str, Any] = {}
    phases = Phases()

    def write() -> None:
        if args.stream is None:
            added = args.work / "added.jsonl"
            added.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
            rebuild = [sys.executable, "-m", "index", "build", "--index", str(index), *args.inputs, str(added)]
            result.update(
                writers(
                    url, key, articles, args.batch, [*rebuild, "--no-progress"], args.work / "rebuild.log", phases, t0
                )
            )
            return
        if args.via == "http":
            add: Callable[[Any, list[dict[str, Any]]], dict[str, Any]] = post_batch
        else:
            add = lambda _, batch: cli_batch(index, batch, args.work, args.work / "adds.log", args.embed)  # noqa: E731
        result.update(stream(url, key, add, articles, args.batch, args.every, phases, t0, args.sequential))

    with tempfile.TemporaryFile("w+") as server_log:
        server = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=server_log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(server, url, server_log)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            samples = load_while(url, queries, args.clients, args.seconds, write, phases, t0)
            elapsed = time.perf_counter() - t0
            time.sleep(2)  # the watcher reloads within a second of a swap by another process
            report["verify"] = verify(url, articles)
            import httpx

            health = httpx.get(f"{url}/healthz", timeout=30).json()
            report["reloads"] = reload_stats(httpx.get(f"{url}/metrics", timeout=30).text)
            report["server_memory_mb"] = resident_mb(server.pid)
            # The service's own processes (its write process; multiprocessing's resource tracker), by pid.
            report["server_children_memory_mb"] = {str(pid): resident_mb(pid) for pid in child_pids(server.pid)}
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=15)
            if server.poll() is None:
                server.kill()
            server_log.seek(0)
            (args.work / "server.log").write_text(server_log.read())

    failures = [f"{phase}: {o}" for phase, _, o in samples if o != "ok"]
    report.update(
        seconds=round(elapsed, 1),
        requests=len(samples),
        failed=len(failures),
        failures=sorted(set(failures))[:20],
        qps=round(len(samples) / elapsed, 1),
        latency_ms=summarise([ms for _, ms, o in samples if o == "ok"]),
        phases={
            p: summarise([ms for ph, ms, o in samples if ph == p and o == "ok"])
            | {"qps": phase_qps(samples, phases, p, elapsed)}
            for p, _ in [("before writes", 0), *phases.marks]
        },
        phase_marks_s=phases.marks,
        writes=result,
        served_at_end={k: health.get(k) for k in ("generation", "articles", "passages", "deleted", "reloads")},
    )
    if args.stream is not None:
        adds = result.get("adds", [])
        report["stream"] = {
            "via": args.via,
            "sequential": args.sequential,
            **stream_summary(adds, args.batch, args.every),
        }
    print_report(report, result, elapsed)
    print(f"wrote {write_json(report, args.out, 'load')}")
    v = report["verify"]
    ok = not failures and not v["not_served"] and not v["not_found_by_title"] and not result.get("error")
    if args.stream is None:
        ok = ok and bool(result.get("rebuild")) and result["rebuild"]["exit"] == 0
    return 0 if ok else 1


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started (Linux: /proc/PID/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def phase_qps(samples: list[tuple[str, float, str]], phases: Phases, phase: str, elapsed: float) -> float | None:
    """Requests started in `phase` per second of it."""
    bounds = [0.0, *(t for _, t in phases.marks), elapsed]
    names = ["before writes", *(p for p, _ in phases.marks)]
    seconds = bounds[names.index(phase) + 1] - bounds[names.index(phase)]
    return round(sum(ph == phase for ph, _, _ in samples) / seconds, 1) if seconds > 0 else None


def print_report(report: dict[str, Any], result: dict[str, Any], elapsed: float) -> None:
    rows = [
        [
            "all",
            report["requests"],
            report["failed"],
            report["qps"],
            *(report["latency_ms"][k] for k in ("p50", "p95", "p99")),
        ]
    ]
    for phase, stats in report["phases"].items():
        rows.append([phase, stats["count"], "", stats["qps"], stats["p50"], stats["p95"], stats["p99"]])
    print(format_table(["phase", "requests", "failed", "QPS", "p50 ms", "p95 ms", "p99 ms"], rows))
    v = report["verify"]
    served_n = v["checked"] - len(v["not_served"])
    found = served_n - len(v["not_found_by_title"])
    after = f"afterwards {served_n}/{v['checked']} served by id, {found} found by their title"
    if "stream" in report:
        st = report["stream"]
        print(
            f"{elapsed:.1f} s; {st['batches']} adds of {st['size']} via {st['via']}, every {st['every_s']} s: add s "
            f"p50 {st['add_seconds']['p50']} p95 {st['add_seconds']['p95']} max {st['add_seconds']['max']}; "
            f"{st['late_adds']} started late (at most {st['max_late_s']} s); {st['generations']} generations; "
            "served after the add returned: "
            f"p50 {st['lag_s']['p50']} p95 {st['lag_s']['p95']} max {st['lag_s']['max']} s, "
            f"{st['batches_never_served']} batches never; {after}; reloads {report['reloads']}; "
            f"server memory {report.get('server_memory_mb')}, its children {report.get('server_children_memory_mb')}"
        )
        return
    posts = result.get("posts", [])
    print(
        f"{elapsed:.1f} s; added {sum(p.get('added') or 0 for p in posts)} articles in {len(posts)} posts "
        f"({sum(p['seconds'] for p in posts):.1f} s); rebuild {result.get('rebuild')}; {after}"
    )


if __name__ == "__main__":
    sys.exit(main())
