"""`python -m search "question"` prints ranked passages; `... coverage "query"` counts per interval; `... serve` runs
the HTTP service."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from index.generations import DEFAULT_INDEX


def _query_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m search",
        description="Search a Dateline index from the shell.",
        epilog="Coverage over time: python -m search coverage --help; the HTTP service: python -m search serve --help",
    )
    p.add_argument("query", nargs="+", help="the question or keywords")
    p.add_argument("--index", default=os.environ.get("DATELINE_INDEX", DEFAULT_INDEX))
    p.add_argument("-k", type=int, default=10, help="number of hits (1-100)")
    p.add_argument("--mode", choices=("dense", "lexical", "hybrid"), default="hybrid")
    p.add_argument("--group", choices=("article", "passage"), default="article")
    p.add_argument("--fusion", choices=("rrf", "minmax", "zscore"), default=None)
    p.add_argument("--rerank", action="store_true", help="rescore with the cross-encoder in DATELINE_RERANK_MODEL")
    p.add_argument("--from", dest="from_", default=None, metavar="YYYY-MM-DD", help="articles dated on or after")
    p.add_argument("--source", action="append", default=None, help="only this source (repeat for more)")
    p.add_argument("--to", default=None, metavar="YYYY-MM-DD", help="articles dated on or before")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="the archive as it stood that day")
    p.add_argument("--recency", type=float, default=None, help="recency boost weight (0 = off; default tuned)")
    p.add_argument("--half-life-days", type=float, default=None, help="age at which the boost halves (default 30)")
    p.add_argument("--offset", type=int, default=0, help="skip this many hits (the next page: offset + k)")
    p.add_argument("--sort", choices=("relevance", "date"), default="relevance", help="date: newest relevant first")
    p.add_argument("--no-collapse", dest="collapse", action="store_false", help="show near-duplicates separately")
    p.add_argument("--article", default=None, help="only passages of this article id")
    p.add_argument(
        "--interpret", action=argparse.BooleanOptionalAction, default=None, help="read time and phrases in the query"
    )
    p.add_argument("--ignore", action="append", default=None, help="leave out 'time' or a phrase (repeat for more)")
    p.add_argument("--json", action="store_true", help="print the same JSON as the HTTP API")
    return p


# Longer than clients keep idle connections (httpx and most pools: 5 s). With uvicorn's default, also 5 s, a client
# may send a request on a connection the server is closing that instant: measured 2 of 14,000 requests failed so
# under 32 clients (benchmarks/load.py).
KEEP_ALIVE_S = 65.0


def _serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m search serve", description="Run the Dateline HTTP service.")
    p.add_argument("--index", default=os.environ.get("DATELINE_INDEX", DEFAULT_INDEX))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--keep-alive",
        type=float,
        default=KEEP_ALIVE_S,
        help=f"seconds an idle HTTP connection stays open (default {KEEP_ALIVE_S:.0f})",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from index.errors import StoreError

    try:
        if argv[:1] == ["serve"]:
            return _serve(_serve_parser().parse_args(argv[1:]))
        if argv[:1] == ["coverage"]:
            from search.coverage_cli import coverage

            return coverage(argv[1:])
        return _query(_query_parser().parse_args(argv))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _query(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from search.options import SearchOptions
    from search.schemas import SearchRequest, to_response
    from search.searcher import Searcher

    try:
        request = SearchRequest.model_validate(
            {
                "q": " ".join(args.query),
                "k": args.k,
                "mode": args.mode,
                "group": args.group,
                "fusion": args.fusion,
                "rerank": args.rerank,
                "from": args.from_,
                "to": args.to,
                "source": args.source,
                "as_of": args.as_of,
                "recency": args.recency,
                "half_life_days": args.half_life_days,
                "offset": args.offset,
                "sort": args.sort,
                "collapse": args.collapse,
                "article": args.article,
                "ignore": args.ignore,
            }
            | ({} if args.interpret is None else {"interpret": args.interpret})
        )
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    searcher = Searcher.open(
        Path(args.index),
        rerank_model=os.environ.get("DATELINE_RERANK_MODEL") or None,
        query_encoder=os.environ.get("DATELINE_QUERY_ENCODER", "auto"),
    )
    result = searcher.search(request.q, SearchOptions.from_request(request))
    response = to_response(request, result)
    if args.json:
        print(response.model_dump_json(indent=2, by_alias=True))
        return 0
    u = response.understood
    if u and (u.time or u.phrases):  # what was read in the query (docs/queries.md); --no-interpret turns it off
        print(f"understood: {u.model_dump_json(by_alias=True)}")
    for hit in response.hits:
        more = f"  (+{hit.more} more passages)" if hit.more else ""
        print(f"{hit.rank:>3}. {hit.score:.3f}  {hit.title}  [{hit.source or '-'}, {hit.date or 'undated'}]{more}")
        print(textwrap.indent(textwrap.fill(hit.text[:400] + ("..." if len(hit.text) > 400 else ""), 100), "     "))
        if hit.url:
            print(f"     {hit.url}")
        if hit.similar:
            print(
                f"     {len(hit.similar)} similar: "
                + ", ".join(f"{a.source or '-'} {a.date or ''}" for a in hit.similar)
            )
    more = f"; more with --offset {args.offset + args.k}" if response.has_more else ""
    print(f"({len(response.hits)} hits in {response.took_ms:.1f} ms{more})", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from search.app import create_app
    from search.settings import Settings

    env = dict(os.environ, DATELINE_INDEX=args.index)
    app = create_app(Settings.from_env(env))
    url = f"http://{args.host}:{args.port}"
    print(
        f"Dateline is starting on {url}/ : open it in a browser, or try\n"
        f"  curl '{url}/search?q=why+did+Russia+suspend+New+START&k=3'\n"
        f"  (API docs: {url}/docs)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_keep_alive=args.keep_alive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
