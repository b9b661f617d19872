"""What a route reaches through FastAPI dependencies: the app's settings, live searcher and metrics, and keys."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from search.group_commit import GroupCommitter
from search.live import LiveSearcher
from search.metrics import Metrics
from search.settings import Settings

# Module level: FastAPI resolves these (string) annotations in the module's namespace.
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def live(request: Request) -> LiveSearcher:
    """The live searcher the lifespan loaded (a request leases its Searcher from it)."""
    return request.app.state.live  # type: ignore[no-any-return]


def metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def committer(request: Request) -> GroupCommitter[Any, Any]:
    """The writes' group committer: one write at a time in this process (the index's flock covers the others),
    the writes that arrived meanwhile applied together (search/group_commit.py)."""
    return request.app.state.committer  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(settings)]
Live = Annotated[LiveSearcher, Depends(live)]
MetricsDep = Annotated[Metrics, Depends(metrics)]
Committer = Annotated[GroupCommitter[Any, Any], Depends(committer)]


def key_matches(credentials: HTTPAuthorizationCredentials | None, keys: list[str | None]) -> None:
    if credentials is None:
        raise HTTPException(401, "this needs a key: send `Authorization: Bearer <key>`", {"WWW-Authenticate": "Bearer"})
    given = credentials.credentials.encode("utf-8")
    # Compare against every key, in constant time each, so timing tells nothing about which (if any) matched.
    matched = [hmac.compare_digest(given, key.encode("utf-8")) for key in keys if key]
    if not any(matched):
        raise HTTPException(403, "wrong key")


def read_access(credentials: Credentials, config: SettingsDep) -> None:
    if config.read_key:
        key_matches(credentials, [config.read_key, config.api_key])


def write_access(credentials: Credentials, config: SettingsDep) -> None:
    key_matches(credentials, [config.api_key])


READS = [Depends(read_access)]
WRITES = [Depends(write_access)]
