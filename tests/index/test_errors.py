"""Errors: one tree in index/errors.py, and the service answers each class with the status it declares."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index import errors
from index.errors import DatelineError, IndexBusy, StoreError
from index.reader import IndexReader
from search.app import create_app
from search.searcher import Searcher
from search.settings import Settings
from tests.fakes import FakeEncoder

ROOT = Path(__file__).resolve().parents[2]
# The statuses the service has always answered with: 400 for what the client can change, 503 for the index.
STATUS = {
    "DatelineError": 500,
    "InputError": 500,
    "ModelError": 500,
    "SettingsError": 500,
    "StoreError": 503,
    "IndexMissing": 503,
    "IndexCorrupt": 503,
    "IndexBusy": 503,
    "WriteFailed": 503,
    "BuildFailed": 503,
    "ModelMismatch": 503,
    "ShardMismatch": 503,
    "NoLexicalIndex": 400,
    "NoReranker": 400,
    "TooManyBuckets": 400,
}


def tree() -> list[type[DatelineError]]:
    found, todo = [], [DatelineError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return [cls for cls in found if cls.__module__ == "index.errors"]


def test_every_exception_class_in_index_and_search_lives_in_errors() -> None:
    # A class whose base is an exception (or any class from the tree) must be defined in index/errors.py.
    exception_bases = {"Exception", "ValueError", "RuntimeError", "LookupError", "KeyError", "OSError"}
    exception_bases |= {cls.__name__ for cls in tree()}
    outside = []
    for package in ("index", "search"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "errors.py" and package == "index":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                    if bases & exception_bases:
                        outside.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert outside == []


def test_the_tree_holds_every_class_once_each_with_the_status_the_service_has_always_used() -> None:
    classes = tree()
    assert sorted(cls.__name__ for cls in classes) == sorted(STATUS)
    assert {cls.__name__: cls.status for cls in classes} == STATUS
    assert all(issubclass(getattr(errors, name), DatelineError) for name in STATUS)
    assert issubclass(errors.SettingsError, ValueError)  # Settings.from_env callers may catch ValueError
    assert not issubclass(errors.InputError, StoreError) and not issubclass(errors.SettingsError, StoreError)


@pytest.fixture
def client(built_index: Path) -> Iterator[TestClient]:
    app = create_app(Settings(index=built_index), searcher=Searcher(IndexReader(built_index), FakeEncoder()))

    @app.get("/raise/{name}")
    def raise_it(name: str) -> None:
        raise getattr(errors, name)(f"{name}: what to do")

    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("name", sorted(STATUS))
def test_the_service_answers_each_error_with_its_status_and_message(client: TestClient, name: str) -> None:
    response = client.get(f"/raise/{name}")
    assert response.status_code == STATUS[name]
    assert response.json() == {"detail": f"{name}: what to do"}
    assert response.headers.get("retry-after") == ("5" if name == IndexBusy.__name__ else None)
