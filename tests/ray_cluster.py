"""A real Ray cluster of N nodes on loopback for tests and benchmarks: `ray start` per node, stopped at exit.

Each node is a `ray start --block` process in its own process group. Stopping the cluster is SIGTERM to those
groups (ray then stops each node's raylet, stores and workers), a wait for every process the nodes started
(found through /proc, workers included), and SIGKILL by process id for any still there after a grace period.
Nothing is stopped by name (`ray stop` would stop every Ray on the machine, not just this cluster's); all the
cluster's files live in a fresh temporary folder.

Ray rewrites a node address of 127.0.0.1 (or localhost) to the host's network address, so node i takes the
loopback address 127.0.0.(2 + i), which Ray leaves alone: nodes find and call each other over loopback. Some
Ray servers still listen on every interface; the cluster's own token (Ray's token authentication, in
`LocalCluster.env` for drivers) is required to talk to them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEAD_IP = "127.0.0.2"  # node i listens on 127.0.0.(2 + i): loopback addresses that Ray leaves as they are
START_TIMEOUT = 90.0  # seconds for all nodes to join
STOP_GRACE = 10.0  # ray start --block may take longer on SIGTERM; what is left then is killed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc): a node's raylet, stores and workers, some in groups of their own."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each node's `ray start` group; then wait for every process the nodes started, SIGKILL what is left."""
    started = {pid for proc in procs for pid in _descendants(proc.pid)} | {proc.pid for proc in procs}
    for proc in reversed(procs):  # the head last
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
        for proc in procs:
            proc.poll()
        time.sleep(0.2)
    for pid in started:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


@dataclass(frozen=True)
class LocalCluster:
    address: str  # host:port of the head, for `ray.init(address=...)` and `--address`
    env: dict[str, str]  # the environment a driver of this cluster must run in (loopback mode)


def _alive_nodes(address: str, env: dict[str, str]) -> int:
    code = (
        "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
        "print(sum(n['Alive'] for n in ray.nodes()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, address], capture_output=True, text=True, timeout=60, check=False, env=env
    ).stdout.strip()
    return int(out.splitlines()[-1]) if out and out.splitlines()[-1].isdigit() else 0


@contextlib.contextmanager
def local_cluster(
    nodes: int = 2, cpus_per_node: int = 1, object_store_mb: int = 400, log_dir: Path | None = None
) -> Iterator[LocalCluster]:
    """Start `nodes` Ray nodes on loopback (the first is the head); yield the cluster; stop them all."""
    ray = Path(sys.executable).with_name("ray")
    temp = Path(tempfile.mkdtemp(prefix="dl-ray-", dir="/tmp"))  # short: Ray's socket paths must stay < 108 bytes
    logs = log_dir or temp
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        # Ray's token authentication, with a token of this cluster's own (never ~/.ray's): every node and driver
        # of the cluster gets it from the environment, nothing else can talk to the cluster.
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    port = free_port()
    address = f"{HEAD_IP}:{port}"
    common = [
        "--block",
        f"--num-cpus={cpus_per_node}",
        f"--object-store-memory={object_store_mb * 1024 * 1024}",
        "--disable-usage-stats",
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(nodes):
            where = (
                [
                    "--head",
                    f"--port={port}",
                    "--include-dashboard=false",
                    f"--temp-dir={temp}",
                    f"--ray-client-server-port={free_port()}",
                ]
                if i == 0
                else [f"--address={address}"]
            )
            args = [str(ray), "start", *common, *where, f"--node-ip-address=127.0.0.{2 + i}"]
            args.append(f"--dashboard-agent-listen-port={free_port()}")
            with open(logs / f"node-{i}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        args,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        start_new_session=True,
                    )
                )
            deadline = time.monotonic() + START_TIMEOUT
            while _alive_nodes(address, env) < i + 1:
                if procs[-1].poll() is not None or time.monotonic() > deadline:
                    text = (logs / f"node-{i}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"ray node {i} did not join {address}:\n{text}")
                time.sleep(1.0)
        yield LocalCluster(address, env)
    finally:
        _stop(procs)
        shutil.rmtree(temp, ignore_errors=True)
