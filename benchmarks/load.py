"""Searches under load while the archive changes: no request may fail, and everything added must be findable.

    python benchmarks/load.py --index IDX --inputs IDX-INPUTS... --work DIR [--seconds 60] [--clients 32] [--add 1000]

Copies the index IDX to DIR/index (IDX is only read), serves the copy with `python -m search serve` on 127.0.0.1
(writes enabled with a throwaway key), and keeps `--clients` concurrent clients asking RealTimeQA's dev
questions (GET /search, hybrid, k=10) for `--seconds`. Meanwhile, from second 5: `--add` articles from the corpus
that the index does not hold are POSTed in batches of `--batch`; then a full rebuild of the index (its inputs
plus the added articles, written to DIR/added.jsonl) runs in another process and is swapped in under the running
service. If the writers are not done at `--seconds`, the load runs on until they are, plus 5 s (the report
says how long).
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
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import DATA_DIR, QUESTIONS, REPO, format_table, in_split, read_queries, summarise, write_json
from benchmarks.latency import free_port, wait_healthy

START_WRITES_S = 5.0
MAX_SECONDS = 900  # the load never runs longer than this, writers done or not
AFTER_S = 5.0  # load kept on after the rebuild's swap, to measure the new generation


def new_articles(corpus: Path, have: set[str], n: int) -> list[dict[str, Any]]:
    """The first `n` dated articles of the corpus with an id the index does not hold (in corpus order)."""
    out: list[dict[str, Any]] = []
    with lzma.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record["doc_id"] in have or not record.get("publish_date") or not record.get("text", "").strip():
                continue
            out.append({k: record.get(k) for k in ("doc_id", "title", "text", "publish_date", "source", "url")})
            if len(out) >= n:
                break
    return out


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

    def enter(self, phase: str, t0: float) -> None:
        self.now = phase
        self.marks.append((phase, round(time.perf_counter() - t0, 2)))


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
    phases.enter("after rebuild", t0)
    return out


def verify(url: str, articles: list[dict[str, Any]]) -> dict[str, Any]:
    """Every added article is served: by id, and by a lexical search for its title on its day."""
    import httpx

    from index.articles import normalise_date

    missing, not_found = [], []
    with httpx.Client(base_url=url, timeout=60.0) as http:
        for a in articles:
            if http.get(f"/articles/{a['doc_id']}").status_code != 200:
                missing.append(a["doc_id"])
                continue
            day = normalise_date(a["publish_date"])
            params = {
                "q": a["title"] or a["text"][:200],
                "mode": "lexical",
                "k": 100,
                "from": day,
                "to": day,
                "recency": 0,
            }
            hits = http.get("/search", params=params).json()["hits"]
            if a["doc_id"] not in {h["article_id"] for h in hits}:
                not_found.append(a["doc_id"])
    return {"checked": len(articles), "not_served": missing, "not_found_by_title": not_found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="index to copy (read only)")
    parser.add_argument("--inputs", nargs="+", required=True, help="the article files the index was built from")
    parser.add_argument("--work", type=Path, required=True, help="folder for the copy, the added articles and logs")
    parser.add_argument("--corpus", type=Path, default=DATA_DIR / "corpus.jsonl.xz")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--add", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    queries = [q for qid, q in read_queries(DATA_DIR / f"{QUESTIONS}.queries.tsv").items() if in_split(qid, "dev")]
    index = args.work / "index"
    if index.exists():
        shutil.rmtree(index)
    args.work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(args.index, index, symlinks=True, ignore=shutil.ignore_patterns(".write.lock"))
    articles = new_articles(args.corpus, stored_ids(index), args.add)
    added = args.work / "added.jsonl"
    added.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    rebuild = [sys.executable, "-m", "index", "build", "--index", str(index), *args.inputs, str(added), "--no-progress"]
    print(f"{len(queries)} dev questions, {len(articles)} articles to add, {args.clients} clients", file=sys.stderr)

    key = secrets.token_hex(16)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATELINE_API_KEY=key, DATELINE_RELOAD_SECONDS="1", DATELINE_MAX_BATCH=str(args.batch))
    cmd = [sys.executable, "-m", "search", "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    report: dict[str, Any] = {"index": str(args.index), "clients": args.clients, "target_seconds": args.seconds}
    with tempfile.TemporaryFile("w+") as server_log:
        server = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=server_log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(server, url, server_log)  # type: ignore[arg-type]
            phases = Phases()
            t0 = time.perf_counter()
            result: dict[str, Any] = {}

            def write() -> None:
                result.update(writers(url, key, articles, args.batch, rebuild, args.work / "rebuild.log", phases, t0))

            thread = threading.Thread(target=write)
            thread.start()

            async def run() -> list[tuple[str, float, str]]:
                stop = asyncio.Event()

                async def stopper() -> None:
                    # At least --seconds, and on until the writers are done plus AFTER_S to measure the new index.
                    while True:
                        now = time.perf_counter() - t0
                        writers_done_at = phases.marks[-1][1] if phases.now == "after rebuild" else None
                        if now >= MAX_SECONDS or (
                            now >= args.seconds and writers_done_at is not None and now >= writers_done_at + AFTER_S
                        ):
                            break
                        if not thread.is_alive() and phases.now != "after rebuild":
                            break  # the writers failed: stop, the report says why
                        await asyncio.sleep(0.2)
                    stop.set()

                samples, _ = await asyncio.gather(clients(url, queries, args.clients, stop, phases), stopper())
                return samples

            samples = asyncio.run(run())
            elapsed = time.perf_counter() - t0
            thread.join()
            time.sleep(2)  # the watcher reloads within a second of the rebuild's swap
            report["verify"] = verify(url, articles)
            import httpx

            health = httpx.get(f"{url}/healthz", timeout=30).json()
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=15)
            if server.poll() is None:
                server.kill()
            server_log.seek(0)
            (args.work / "server.log").write_text(server_log.read())

    failures = [f"{phase}: {o}" for phase, _, o in samples if o != "ok"]
    ok_ms = [ms for _, ms, o in samples if o == "ok"]
    report.update(
        seconds=round(elapsed, 1),
        requests=len(samples),
        failed=len(failures),
        failures=sorted(set(failures))[:20],
        qps=round(len(samples) / elapsed, 1),
        latency_ms=summarise(ok_ms),
        phases={
            p: summarise([ms for ph, ms, o in samples if ph == p and o == "ok"])
            for p, _ in [("before writes", 0), *phases.marks]
        },
        phase_marks_s=phases.marks,
        writes=result,
        served_at_end={k: health.get(k) for k in ("generation", "articles", "passages", "deleted", "reloads")},
    )
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
        rows.append([phase, stats["count"], "", "", stats["p50"], stats["p95"], stats["p99"]])
    print(format_table(["phase", "requests", "failed", "QPS", "p50 ms", "p95 ms", "p99 ms"], rows))
    v = report["verify"]
    served = v["checked"] - len(v["not_served"])
    print(
        f"{elapsed:.1f} s; added {sum(p.get('added') or 0 for p in result.get('posts', []))} articles in "
        f"{len(result.get('posts', []))} posts ({sum(p['seconds'] for p in result.get('posts', [])):.1f} s); "
        f"rebuild {result.get('rebuild')}; afterwards {served}/{v['checked']} served by id, "
        f"{served - len(v['not_found_by_title'])} found by their title"
    )
    print(f"wrote {write_json(report, args.out, 'load')}")
    ok = not failures and not v["not_served"] and result.get("rebuild", {}) and result["rebuild"]["exit"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
