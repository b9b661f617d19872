"""Opt-in fine-tuning on an archive's own (headline, passage) pairs: what it trains on and what it saves."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from index.finetune import TuneSettings, distinct_batches, finetune, training_pairs
from index.reader import IndexReader


def test_training_pairs_leave_out_excluded_and_untitled_articles_and_cap_each_article(built_index: Path) -> None:
    reader = IndexReader(built_index)
    try:
        everything = list(reader.iter_passages())
        titled = sorted({p.article_id for p in everything if p.title.strip()})
        excluded = titled[:2]
        pairs = training_pairs(reader, TuneSettings(passages_per_article=1), exclude=excluded)
    finally:
        reader.close()
    ids = [a for a, _, _ in pairs]
    assert ids and not set(ids) & set(excluded)
    assert len(ids) == len(set(ids))  # one passage an article
    assert set(ids) == set(titled) - set(excluded)
    by_id = {p.article_id: p for p in everything}
    for article_id, title, text in pairs:
        assert title == by_id[article_id].title and text in {p.text for p in everything}


def test_a_batch_never_holds_two_passages_of_one_article() -> None:
    # two passages of one article in a batch would make one of them a false negative for the other's title
    pairs = [(f"a{i % 7}", f"title {i % 7}", f"passage {i}") for i in range(40)]
    batches = distinct_batches(pairs, 8, random.Random(1))
    for batch in batches:
        assert len({a for a, _, _ in batch}) == len(batch)
    assert sorted(p for b in batches for p in b) == sorted(pairs)  # none dropped (no batch of one here)


@pytest.mark.slow
def test_finetuning_saves_a_model_that_the_build_can_load(built_index: Path, tmp_path: Path) -> None:
    from index.embed import DEFAULT_MODEL, Encoder, resolve_model

    out = tmp_path / "tuned"
    settings = TuneSettings(max_pairs=16, batch_size=4)
    record = finetune(built_index, str(resolve_model(DEFAULT_MODEL)), out, settings, log=lambda _: None)
    assert 8 <= record["pairs"] <= 16 and record["steps"] >= record["pairs"] // 4
    assert json.loads((out / "dateline-finetune.json").read_text()) == record  # what was done, beside the weights
    tuned = Encoder(str(out))
    assert tuned.info.max_tokens == Encoder().info.max_tokens  # training's shorter window is not saved
    assert tuned.dim == 384 and tuned.info.fingerprint != Encoder().info.fingerprint  # new weights, new fingerprint
    assert tuned.documents(["Moscow suspends New START"]).shape == (1, 384)


def test_too_few_pairs_is_a_clear_error(built_index: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too few to fine-tune on"):
        finetune(built_index, "unused", tmp_path / "tuned", TuneSettings(max_pairs=3, batch_size=32))


def test_the_cli_says_what_to_fix(built_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from index.cli import main

    assert main(["finetune", "--index", str(built_index), "--exclude", str(tmp_path / "absent.txt")]) == 2
    assert "--exclude" in capsys.readouterr().err
    assert main(["finetune", "--index", str(built_index), "--pairs", "3"]) == 2
    assert "too few to fine-tune on" in capsys.readouterr().err
    assert not (built_index / "models").exists()  # nothing half-saved
