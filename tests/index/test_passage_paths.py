"""Passage encoding paths: the per-CPU rule, the chooser's fallbacks, cache keys by path, batching order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import passage_paths
from index.build import build_index
from index.embed import Encoder, ModelInfo, resolve_model
from index.errors import ModelError
from index.manifest import Manifest
from tests.fakes import FakeEncoder

EPYC = {"avx512f", "avx512_vnni", "avx512_bf16"}  # this machine: bf16 without AMX
SAPPHIRE_RAPIDS = {"avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile"}
OLDER = {"avx2", "fma"}


def everything(package: str) -> bool:
    return True


def nothing(package: str) -> bool:
    return False


@pytest.mark.parametrize("flags", [EPYC, SAPPHIRE_RAPIDS])
def test_a_cpu_with_native_bf16_tries_openvino_bf16_then_torch_bf16(flags: set[str]) -> None:
    assert passage_paths.candidates(flags, everything) == ["openvino-bf16", "torch-bf16", "torch-fp32"]
    assert passage_paths.candidates(flags, nothing) == ["torch-bf16", "torch-fp32"]


def test_a_cpu_without_bf16_tries_openvino_then_onnx_runtime_in_fp32() -> None:
    assert passage_paths.candidates(OLDER, everything) == ["openvino-fp32", "onnx-fp32", "torch-fp32"]
    assert passage_paths.candidates(OLDER, lambda p: p in ("onnxruntime", "onnx")) == ["onnx-fp32", "torch-fp32"]
    assert passage_paths.candidates(OLDER, lambda p: p != "onnx") == ["torch-fp32"]  # no exporter: torch only
    assert passage_paths.candidates(OLDER, nothing) == ["torch-fp32"]


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16\n\nflags\t: x\n")
    assert passage_paths.cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert passage_paths.cpu_flags(tmp_path / "absent") == frozenset()


class Chooser(Encoder):
    """Encoder's path chooser with made-up paths: which load, and which agree with fp32."""

    def __init__(self, broken: set[str], disagree: set[str]) -> None:
        self.broken, self.disagree = broken, disagree
        self._fp32 = object()  # type: ignore[assignment]

    def _load_passages(self, name: str, path: Path, fingerprint: str, threads: int):  # type: ignore[no-untyped-def]
        if name in self.broken:
            raise ModelError(f"{name} is not installed")
        return lambda texts, batch_size: name

    def _agrees(self, documents) -> bool:  # type: ignore[no-untyped-def]
        return documents([], 1) not in self.disagree

    def choose(self, want: str) -> str:
        return self._choose_passages(want, Path("."), "abc", 2)[0]


@pytest.fixture
def epyc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passage_paths, "cpu_flags", lambda: frozenset(EPYC))
    monkeypatch.setattr(passage_paths, "installed", everything)


@pytest.mark.usefixtures("epyc")
def test_auto_takes_the_first_candidate_that_loads_and_agrees_with_fp32() -> None:
    assert Chooser(set(), set()).choose("auto") == "openvino-bf16"
    assert Chooser({"openvino-bf16"}, set()).choose("auto") == "torch-bf16"
    assert Chooser(set(), {"openvino-bf16"}).choose("auto") == "torch-bf16"
    assert Chooser(set(), {"openvino-bf16", "torch-bf16"}).choose("auto") == "torch-fp32"


@pytest.mark.usefixtures("epyc")
def test_a_path_asked_for_by_name_is_used_or_refused_never_swapped() -> None:
    assert Chooser(set(), {"openvino-fp32"}).choose("openvino-fp32") == "openvino-fp32"
    assert Chooser(set(), set()).choose("bfloat16") == "torch-bf16"
    assert Chooser(set(), set()).choose("float32") == "torch-fp32"
    with pytest.raises(ModelError, match="not installed"):
        Chooser({"onnx-fp32"}, set()).choose("onnx-fp32")
    with pytest.raises(ModelError, match="expected one of auto, torch-fp32"):
        Chooser(set(), set()).choose("tpu-int4")


@pytest.mark.usefixtures("epyc")
def test_an_uncalibrated_int8_path_keeps_the_candidates_after_it_to_fall_back_to() -> None:
    chooser = Chooser(set(), {"openvino-int8"})  # int8 is not probed here: it is gated once calibrated
    order = ["openvino-int8", "openvino-bf16", "torch-bf16", "torch-fp32"]
    assert chooser._choose_passages("auto", Path("."), "abc", 2, order)[0] == "openvino-int8"
    assert chooser._fallbacks == order[1:]
    assert chooser._choose_passages("auto", Path("."), "abc", 2, chooser._fallbacks)[0] == "openvino-bf16"
    assert chooser._choose_passages("openvino-int8", Path("."), "abc", 2)[0] == "openvino-int8"
    assert chooser._fallbacks == []  # asked for by name: no gate, nothing to fall back to


def info(dtype: str, passages: str) -> ModelInfo:
    return ModelInfo("m", "p", "abc", 8, 16, dtype, passages)


def test_the_cache_key_names_the_path_and_keeps_the_torch_keys_of_older_caches() -> None:
    assert info("float32", "torch-fp32").cache_key == info("float32", "").cache_key == "abc/float32"
    assert info("bfloat16", "torch-bf16").cache_key == info("bfloat16", "").cache_key == "abc"
    assert info("bfloat16", "openvino-bf16").cache_key == "abc/openvino-bf16"
    assert info("float32", "openvino-fp32").cache_key != info("float32", "onnx-fp32").cache_key


def test_vectors_of_one_path_are_never_reused_by_another(articles_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    torch_bf16 = FakeEncoder(dtype="bfloat16", passages="torch-bf16")
    first = build_index([articles_file], tmp_path / "a", torch_bf16, cache_path=cache, progress=False)
    openvino = FakeEncoder(dtype="bfloat16", passages="openvino-bf16")
    other = build_index([articles_file], tmp_path / "b", openvino, cache_path=cache, progress=False)
    assert first.embedded == first.passages and (other.embedded, other.cached) == (other.passages, 0)
    again = build_index([articles_file], tmp_path / "c", openvino, cache_path=cache, progress=False)
    assert again.cached == again.passages


def test_the_manifest_records_the_path_that_made_the_vectors(articles_file: Path, tmp_path: Path) -> None:
    from index.generations import resolve_generation

    encoder = FakeEncoder(dtype="bfloat16", passages="openvino-bf16")
    build_index([articles_file], tmp_path / "i", encoder, progress=False)
    model = Manifest.read(resolve_generation(tmp_path / "i")).model
    assert (model.dtype, model.passages) == ("bfloat16", "openvino-bf16")


def test_batches_are_sorted_by_length_and_vectors_come_back_in_input_order() -> None:
    batches = passage_paths.Batches(resolve_model("all-MiniLM-L6-v2"), 256)
    texts = ["short one", "a much longer passage about the harbour ferry strike and the council vote", "mid size text"]
    widths = [ids.shape[1] for _, ids, _ in batches(texts, 2)]
    assert widths == sorted(widths, reverse=True)

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:  # a "model" whose pooled vector identifies the text
        return np.repeat(ids.sum(axis=1, keepdims=True)[:, :, None], 8, axis=2).astype(np.float32) + np.arange(8)

    together = passage_paths.RuntimePassages(batches, run, 8).encode(texts, batch_size=2)
    alone = [passage_paths.RuntimePassages(batches, run, 8).encode([t])[0] for t in texts]
    np.testing.assert_allclose(together, np.stack(alone), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-6)


def test_a_converted_model_is_written_once_and_whole(tmp_path: Path) -> None:
    calls: list[Path] = []

    def write(out: Path) -> None:
        calls.append(out)
        out.write_text("model")

    target = tmp_path / "m" / "model.onnx"
    assert passage_paths.atomic(target, write) == target and target.read_text() == "model"
    passage_paths.atomic(target, write)
    assert len(calls) == 1 and sorted(p.name for p in target.parent.iterdir()) == ["model.onnx"]


@pytest.fixture(scope="module")
def fp32_and_texts() -> tuple[Encoder, list[str]]:
    from tests.fakes import made_up_text

    texts = [made_up_text(seed, sentences=n) for seed, n in enumerate((1, 3, 8, 14, 20, 30))]
    return Encoder(dtype="float32", queries="torch"), texts


@pytest.mark.slow
@pytest.mark.parametrize("path", ["torch-bf16", "onnx-fp32", "openvino-fp32", "openvino-bf16"])
def test_each_path_agrees_with_fp32_and_repeats_its_vectors_exactly(
    path: str, fp32_and_texts: tuple[Encoder, list[str]]
) -> None:
    fp32, texts = fp32_and_texts
    runtime = passage_paths.RUNTIME_PATHS.get(path, ("torch", ""))[0]
    if not passage_paths.installed(runtime):
        pytest.skip(f"{runtime} is not installed")
    encoder = Encoder(dtype=path, queries="torch")
    assert encoder.passages == path and encoder.info.passages == path
    vectors = encoder.documents(texts, batch_size=4)
    assert np.sum(vectors * fp32.documents(texts), axis=1).min() >= 0.99
    assert np.array_equal(vectors, encoder.documents(texts, batch_size=4))  # a rebuild makes the same vectors


@pytest.mark.slow
def test_auto_takes_this_cpus_first_candidate(fp32_and_texts: tuple[Encoder, list[str]]) -> None:
    first = passage_paths.candidates(passage_paths.cpu_flags(), passage_paths.installed)[0]
    assert Encoder(queries="torch").passages == first


def test_add_embeds_on_the_indexs_own_path_unless_told_or_unable(
    articles_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import index.embed
    from index import cli as index_cli
    from tests.fakes import write_jsonl

    build_index(
        [articles_file], tmp_path / "i", FakeEncoder(dtype="bfloat16", passages="openvino-bf16"), progress=False
    )
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": "new-1", "title": "Ferry vote", "text": "The council voted."}])
    asked: list[str] = []

    def make(spec: str, dtype: str = "auto", **_: object) -> FakeEncoder:
        asked.append(dtype)
        if dtype == "openvino-bf16" and len(asked) > 2:
            raise ModelError("openvino is not installed")
        return FakeEncoder(dtype="bfloat16", passages=dtype)

    monkeypatch.setattr(index.embed, "Encoder", make)
    argv = ["add", "--index", str(tmp_path / "i"), "--no-cache", str(more)]
    assert index_cli.main(argv) == 0 and asked == ["openvino-bf16"]
    assert index_cli.main([*argv, "--dtype", "torch-bf16"]) == 0 and asked[-1] == "torch-bf16"
    assert index_cli.main(argv) == 0 and asked[-2:] == ["openvino-bf16", "auto"]  # can't run here: this CPU's pick
    capsys.readouterr()
