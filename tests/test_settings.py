"""Settings from the environment: defaults, and a clear error naming the variable for a value that can't be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.settings import Settings, SettingsError


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
