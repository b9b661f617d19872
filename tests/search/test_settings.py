"""Settings from the environment: defaults, and a clear error naming the variable for a value that can't be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import SettingsError
from search.settings import Settings


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert (settings.index, settings.threads, settings.query_encoder) == (Path("data/index"), 1, "auto")


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DATELINE_INDEX": "/srv/news",
            "DATELINE_THREADS": "2",
            "DATELINE_QUERY_ENCODER": "torch",
            "DATELINE_RERANK_MODEL": "/models/ce",
        }
    )
    assert (settings.index, settings.threads, settings.query_encoder) == (Path("/srv/news"), 2, "torch")
    assert settings.rerank_model == "/models/ce"


@pytest.mark.parametrize(
    ("name", "value"), [("DATELINE_THREADS", "0"), ("DATELINE_THREADS", "two"), ("DATELINE_QUERY_ENCODER", "gpu")]
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_every_setting_the_service_reads_is_documented_in_the_settings_table() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r"DATELINE_[A-Z_]+", (root / "search" / "settings.py").read_text()))
    table = [line for line in (root / "docs" / "operations.md").read_text().splitlines() if line.startswith("| `")]
    documented = set(re.findall(r"DATELINE_[A-Z_]+", "\n".join(table)))
    assert read and read <= documented, read - documented


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATELINE_MAX_BATCH", "0"),
        ("DATELINE_MAX_BODY_BYTES", "lots"),
        ("DATELINE_RELOAD_SECONDS", "-1"),
        ("DATELINE_REQUEST_THREADS", "0"),
    ],
)
def test_a_bad_limit_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_reload_seconds_zero_turns_the_watcher_off_and_the_cache_can_be_off() -> None:
    settings = Settings.from_env({"DATELINE_RELOAD_SECONDS": "0", "DATELINE_CACHE": "off"})
    assert (settings.reload_seconds, settings.cache) == (0, None)


def test_request_threads_default_to_the_server_s_pool_and_can_be_bounded() -> None:
    assert Settings.from_env({}).request_threads is None
    assert Settings.from_env({"DATELINE_REQUEST_THREADS": "8"}).request_threads == 8
