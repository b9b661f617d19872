"""The README and docs/ stay in step with the code: short README, links that resolve, commands that exist."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 160

LINK = re.compile(r"\]\(([^)\s]+)\)")
# `python -m index build`, `.venv/bin/python -m search serve`; not `python -m search "question"` or `search.replicas`.
COMMAND = re.compile(r"python -m (index|search) ([a-z][a-z_-]*)\b")
# A file of the repository named in the text: `index/reader.py`, `tests/search/test_app.py`, `scripts/add-articles`.
REPO_FILE = re.compile(r"\b((?:index|search|benchmarks|tests)/[\w/-]+\.(?:py|html)|scripts/[a-z][\w-]*)")
MAKE = re.compile(r"(?:`|^)make ([a-z][a-z0-9_-]*)", re.MULTILINE)  # in code, not prose ("make a new generation")


def _named(pattern: re.Pattern[str], pages: list[Path]) -> set[tuple[str, ...]]:
    return {m.groups() for page in pages for m in pattern.finditer(page.read_text(encoding="utf-8"))}


def test_the_readme_is_a_page_for_users_not_a_notebook() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < MAX_README_LINES, f"README.md has {lines} lines: move depth to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_that_exists(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the same page
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.name}: links to missing files: {broken}"


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_to_a_heading_names_one_that_exists(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        if not anchor or re.match(r"[a-z]+:", target):
            continue
        linked = page.parent / path if path else page
        if linked.suffix == ".md" and linked.exists() and anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f"{page.name}: links to headings that do not exist: {broken}"


def _help(package: str, command: str) -> tuple[int | str | None, str]:
    if package == "index":
        from index.cli import main
    else:
        from search.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            main([command, "--help"])
        except SystemExit as exc:
            return exc.code, out.getvalue()
    return None, out.getvalue()


@pytest.mark.parametrize(("package", "command"), sorted(_named(COMMAND, PAGES)))
def test_every_documented_cli_command_exists(package: str, command: str) -> None:
    code, usage = _help(package, command)
    # --help exits 0 with the subcommand's own usage line; an unknown one errors, or (search) is read as a query.
    assert code == 0 and f"python -m {package} {command}" in usage, f"`python -m {package} {command}` is not a command"


def test_the_documents_name_some_commands() -> None:
    named = _named(COMMAND, PAGES)
    assert {("index", "build"), ("index", "add"), ("index", "check"), ("search", "serve")} <= named


def test_every_make_target_the_readme_and_docs_name_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9_-]*):", makefile, re.MULTILINE))
    named = {target for (target,) in _named(MAKE, PAGES)}
    assert {"demo", "test"} <= named
    assert named <= targets, f"make targets named in the docs but not in the Makefile: {named - targets}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_script_and_test_file_named_exists(page: Path) -> None:
    missing = sorted(
        {name for name in REPO_FILE.findall(page.read_text(encoding="utf-8")) if not (ROOT / name).exists()}
    )
    assert not missing, f"{page.name} names files that are not in the repository: {missing}"
