"""N query replicas behind one HTTP endpoint: uvicorn worker processes on one machine, or Ray Serve on a cluster.

    uvicorn --factory search.replicas:app_from_env --workers 4 --host 0.0.0.0 --port 8000   # one machine
    python -m search.replicas --index data/index --replicas 4 --address HEAD:6379            # a Ray cluster

Each replica is the usual app (search.app.create_app): it loads the index and the model once, at start-up.
DATELINE_INDEX (or --index) may also be a folder of `shard-NN` indexes (search.shards), searched as one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from index.generations import DEFAULT_INDEX
from search.app import create_app
from search.settings import Settings
from search.shards import open_searcher, shard_paths


def app_for(settings: Settings) -> Any:  # a FastAPI app (fastapi is imported by search.app only)
    """The app for one index, or for the shards in `settings.index` (loaded now: a sharded app has no lifespan
    loading of its own)."""
    shards = shard_paths(settings.index)
    if not shards:
        return create_app(settings)
    searcher = open_searcher(shards, settings.model, settings.threads, settings.query_encoder, settings.rerank_model)
    return create_app(settings, searcher=searcher)


def app_from_env(environ: Mapping[str, str] | None = None) -> Any:
    """The factory for `uvicorn --factory --workers N`: each worker process builds its own app from the env."""
    return app_for(Settings.from_env(os.environ if environ is None else environ))


def serve_application(settings: Settings, replicas: int, cpus_per_replica: float = 1.0) -> Any:
    """A Ray Serve application of `replicas` copies of the app; Serve's proxy spreads requests over them."""
    from ray import serve

    if shard_paths(settings.index):
        raise ValueError(
            "Ray Serve replicas serve one index; serve shards with uvicorn --factory (see docs/distributed.md)"
        )
    app = create_app(settings)  # each replica runs its lifespan: index and model loaded once per replica

    @serve.deployment(num_replicas=replicas, ray_actor_options={"num_cpus": cpus_per_replica})
    @serve.ingress(app)
    class Dateline:
        """One replica: the FastAPI app with its own searcher."""

    return Dateline.bind()  # type: ignore[attr-defined]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m search.replicas", description="Serve N replicas on Ray Serve.")
    p.add_argument("--index", default=os.environ.get("DATELINE_INDEX", DEFAULT_INDEX))
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--cpus-per-replica", type=float, default=1.0)
    p.add_argument("--address", default=None, help="a running Ray cluster (host:port); default: start Ray here")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import ray
        from ray import serve
    except ImportError:
        print("error: Ray Serve is an optional extra: pip install 'dateline[ray]'", file=sys.stderr)
        return 2
    settings = Settings.from_env({**os.environ, "DATELINE_INDEX": str(Path(args.index))})
    ray.init(**({"address": args.address} if args.address else {"include_dashboard": False}))
    serve.start(http_options={"host": args.host, "port": args.port}, proxy_location="HeadOnly")
    serve.run(serve_application(settings, args.replicas, args.cpus_per_replica), name="dateline", route_prefix="/")
    print(
        f"Dateline: {args.replicas} replicas on http://{args.host}:{args.port}/ (Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        serve.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
