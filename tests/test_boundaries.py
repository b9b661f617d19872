"""Boundaries: data flows one way, and each outside library is imported by the one module that owns it."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules_after(imports: str) -> set[str]:
    """The top-level package names in sys.modules after a fresh interpreter runs `imports`."""
    code = f"{imports}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_the_write_side_imports_neither_the_web_stack_nor_the_search_package() -> None:
    loaded = modules_after(
        "import index.build, index.reader, index.writer, index.split, index.articles, index.update, index.edit, "
        "index.check"
    )
    assert loaded.isdisjoint({"fastapi", "pydantic", "starlette", "uvicorn", "search"})


def test_the_write_side_loads_the_model_library_only_when_an_encoder_is_made() -> None:
    loaded = modules_after("import index.build, index.reader, index.writer, index.split, index.articles, index.embed")
    assert loaded.isdisjoint({"sentence_transformers", "torch", "transformers"})


def test_the_json_contract_does_not_import_the_model_library() -> None:
    loaded = modules_after("import search.schemas")
    assert loaded.isdisjoint({"sentence_transformers", "torch", "transformers"})


@pytest.mark.parametrize("module", ["index.cli", "search.cli"])
def test_the_command_lines_import_heavy_libraries_only_inside_the_chosen_command(module: str) -> None:
    loaded = modules_after(f"import {module}")
    assert loaded.isdisjoint({"sentence_transformers", "torch", "faiss", "tantivy", "fastapi", "uvicorn"})


# index/finetune.py is the one other module that may touch the model library: it trains the weights (an
# optimiser, a loss), where embed.py only runs them.
OWNERS = {
    "sentence_transformers": {"index/embed.py", "index/finetune.py"},
    "torch": {"index/embed.py", "index/finetune.py"},
    "openvino": {"index/passage_paths.py"},
    "faiss": {"index/vectors.py"},
    "tantivy": {"index/lexical.py"},
    "sqlite3": {"index/passages.py", "index/cache.py"},
    "fastapi": {"search/app.py"},
    "uvicorn": {"search/cli.py"},
}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_each_outside_library_is_imported_by_the_one_module_that_owns_it() -> None:
    importers: dict[str, set[str]] = {name: set() for name in OWNERS}
    for path in sorted([*ROOT.glob("index/*.py"), *ROOT.glob("search/*.py")]):
        for name in imported_packages(path) & set(OWNERS):
            importers[name].add(path.relative_to(ROOT).as_posix())
    assert importers == OWNERS


def test_the_index_package_never_imports_the_search_package() -> None:
    for path in ROOT.glob("index/*.py"):
        assert "search" not in imported_packages(path), path.name


def test_importing_the_model_module_leaves_the_environment_alone() -> None:
    imports = "import index.embed, index.cli, search.settings"
    code = f"import os\nbefore = dict(os.environ)\n{imports}\nprint(dict(os.environ) == before)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def test_loading_a_model_goes_offline_unless_the_environment_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from index.embed import OFFLINE_ENV, offline

    for name in OFFLINE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    offline()
    assert {name: os.environ[name] for name in OFFLINE_ENV} == {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "true",
    }
