"""Entry scripts run by a Python without Dateline's packages re-run themselves with the project's .venv."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def use_project_venv() -> None:
    """Re-exec this script with .venv's Python (made by `make install`) when this Python lacks the packages."""
    if importlib.util.find_spec("faiss") is not None:
        return
    if VENV_PYTHON.exists() and Path(sys.executable) != VENV_PYTHON:
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])
    sys.exit(f"error: {sys.executable} lacks Dateline's packages: run `make install` in {ROOT} (it makes .venv)")
