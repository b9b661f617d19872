"""The calibrated int8 passage path: its sample, its identity in the manifest and cache key, its kept model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index import int8_path, passage_paths
from index.build import build_index
from index.errors import ModelError
from index.generations import resolve_generation
from index.manifest import Manifest
from tests.fakes import FakeEncoder, made_up_articles, write_jsonl


def int8_encoder() -> FakeEncoder:
    return FakeEncoder(dtype="int8", passages=int8_path.PREFIX)


def test_the_calibration_sample_is_the_same_whatever_the_order() -> None:
    texts = [f"passage {i}" for i in range(1000)]
    sample = int8_path.calibration_sample(texts)
    assert len(sample) == int8_path.CALIBRATION == len(set(sample))
    assert sample == int8_path.calibration_sample(reversed(texts + texts[:50]))  # order and repeats don't matter
    assert int8_path.calibration_sample(texts[:10]) == int8_path.calibration_sample(texts[9::-1])
    assert int8_path.identity("fp", sample) != int8_path.identity("fp", sample[1:])
    assert int8_path.identity("fp", sample) != int8_path.identity("other-weights", sample)


def test_a_build_names_its_calibration_in_the_manifest_and_cache_key_and_keeps_the_model(tmp_path: Path) -> None:
    articles = write_jsonl(tmp_path / "a.jsonl", made_up_articles(7))
    encoder = int8_encoder()
    build_index([articles], tmp_path / "i", encoder, cache_path=tmp_path / "cache.sqlite3", progress=False)
    model = Manifest.read(resolve_generation(tmp_path / "i")).model
    assert model.passages == encoder.passages and model.passages.startswith("openvino-int8-")
    assert model.dtype == "int8" and encoder.info.cache_key == f"{model.fingerprint}/{model.passages}"
    saved = int8_path.model_folder(tmp_path / "i", model.passages) / int8_path.MODEL_FILE
    assert json.loads(saved.read_text()) == encoder.quantised[0]  # quantised once, on the archive's passages

    again = int8_encoder()  # a rebuild of the same archive finds the model and the cached vectors
    report = build_index([articles], tmp_path / "i", again, cache_path=tmp_path / "cache.sqlite3", progress=False)
    assert again.passages == model.passages and again.quantised == [] and report.cached == report.passages

    other = write_jsonl(tmp_path / "b.jsonl", made_up_articles(9))  # another archive: another calibration
    third = int8_encoder()
    report = build_index([other], tmp_path / "j", third, cache_path=tmp_path / "cache.sqlite3", progress=False)
    assert third.passages != model.passages and third.info.cache_key != encoder.info.cache_key
    assert report.embedded > 0 and len(third.quantised) == 1


def test_index_add_embeds_with_the_model_saved_in_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import index.embed
    from index import cli as index_cli

    articles = write_jsonl(tmp_path / "a.jsonl", made_up_articles(5))
    built = int8_encoder()
    build_index([articles], tmp_path / "i", built, progress=False)
    asked: list[tuple[str, Path | None]] = []

    def make(spec: str, dtype: str = "auto", index_dir: Path | None = None, **_: object) -> FakeEncoder:
        asked.append((dtype, index_dir))
        return FakeEncoder(dtype="int8", passages=dtype)

    monkeypatch.setattr(index.embed, "Encoder", make)
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": "new-1", "title": "Ferry vote", "text": "The council voted."}])
    assert index_cli.main(["add", "--index", str(tmp_path / "i"), "--no-cache", str(more)]) == 0
    assert asked == [(built.passages, tmp_path / "i")]
    assert Manifest.read(resolve_generation(tmp_path / "i")).model.passages == built.passages
    capsys.readouterr()


def test_an_add_cannot_ask_for_an_uncalibrated_int8_path() -> None:
    from index.embed import encoder_for_adds

    with pytest.raises(ModelError, match="calibrated by a build"):
        encoder_for_adds(FakeEncoder().info, "openvino-int8")


def test_a_missing_model_or_quantiser_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match=r"quantised model .* is missing"):
        int8_path.runner(tmp_path, "openvino-int8-0123456789ab", 1, 256)
    with pytest.raises(ModelError, match=r"quantised model .* is missing"):
        int8_path.runner(None, "openvino-int8-0123456789ab", 1, 256)
    monkeypatch.setattr(passage_paths, "installed", lambda package: package != "nncf")
    with pytest.raises(ModelError, match="needs nncf: pip install nncf"):
        int8_path.need_nncf()


@pytest.mark.slow
def test_the_real_path_agrees_with_fp32_and_add_reuses_the_saved_model(tmp_path: Path) -> None:
    from index.embed import Encoder, encoder_for_adds
    from tests.fakes import made_up_text

    for package in ("openvino", "onnx", "nncf"):
        if not passage_paths.installed(package):
            pytest.skip(f"{package} is not installed")
    texts = [made_up_text(seed, sentences=n) for seed, n in enumerate((1, 3, 8, 14, 20, 30) * 4)]
    encoder = Encoder(dtype="openvino-int8", queries="torch")
    encoder.calibrate(texts, tmp_path)
    assert encoder.passages.startswith("openvino-int8-") and encoder.info.passages == encoder.passages
    vectors = encoder.documents(texts)
    fp32 = Encoder(dtype="float32", queries="torch").documents(texts)
    assert np.sum(vectors * fp32, axis=1).min() >= 0.99
    adds = encoder_for_adds(encoder.info, index_dir=tmp_path)
    assert adds.passages == encoder.passages and np.array_equal(adds.documents(texts), vectors)
