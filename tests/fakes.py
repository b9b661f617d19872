"""Test helpers: a deterministic fake encoder, fake token counters, made-up articles, where the real data lives."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pytest

from index import int8_path
from index.articles import Article, read_articles
from index.embed import ModelInfo
from index.reader import IndexReader
from index.split import SplitSettings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CORPUS = SHARED_DATA / "realtimeqa" / "corpus.jsonl.xz"
SEED_ARTICLE = SHARED_DATA / "plain-text" / "lavrov-blinken-new-start.txt"

# The open_reader fixture: IndexReader(*args), closed when the test ends.
OpenReader = Callable[..., IndexReader]
Closable = TypeVar("Closable")


class Closes(Protocol):
    """The closes fixture: hand it anything with close() (a Searcher, a ShardedReader); closed when the test ends."""

    def __call__(self, thing: Closable) -> Closable: ...


def need_shared_data(*paths: Path) -> None:
    """Skip the calling test, saying why, when the shared real-news data is not beside the repo."""
    for path in paths or (SHARED_DATA,):
        if not path.exists():
            pytest.skip(f"real news data not found at {path} (expected ../shared/data beside the repo)")


def word_pieces(texts: Sequence[str]) -> list[int]:
    """A fake tokenizer's counts: each whitespace word costs one token per 6 characters (so giant words are long).

    Like the real WordPiece tokenizer it is additive over whitespace: count(a + " " + b) == count(a) + count(b).
    """
    return [sum(-(-len(word) // 6) for word in text.split()) for text in texts]


def whitespace_words(texts: Sequence[str]) -> list[int]:
    return [len(text.split()) for text in texts]


class FakeEncoder:
    """The interface of index.embed.Encoder without a model: a hashed bag of words plus a per-text hash component.

    Vectors are deterministic, L2-normalised float32; texts that share words score higher, so searches mean
    something, and no two different texts share a vector (no exact ties in rankings).
    """

    def __init__(
        self,
        dim: int = 32,
        max_tokens: int = 128,
        fingerprint: str = "fake-words-0001",
        dtype: str = "float32",
        passages: str = "",
    ) -> None:
        self.info = ModelInfo(
            name="fake-hashed-words",
            path="(in memory)",
            fingerprint=fingerprint,
            dim=dim,
            max_tokens=max_tokens,
            dtype=dtype,
            passages=passages,
        )
        self.dtype, self.passages = dtype, passages
        self.documents_embedded = 0
        self.quantised: list[list[str]] = []  # calibration samples this encoder quantised a model on

    def calibrate(self, texts: Iterable[str], index_dir: Path) -> None:
        """Encoder.calibrate's plumbing (the sample, the path's identity, the saved model) with a fake quantiser."""

        def quantise(sample: list[str], folder: Path) -> None:
            self.quantised.append(sample)
            folder.mkdir(parents=True)
            (folder / int8_path.MODEL_FILE).write_text(json.dumps(sample))

        name, _ = int8_path.calibrated(index_dir, self.info.fingerprint, texts, quantise)
        self.passages, self.info = name, dataclasses.replace(self.info, passages=name)

    @property
    def dim(self) -> int:
        return self.info.dim

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float64)
        for word in re.findall(r"\w+", text.lower()):
            h = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            v[int.from_bytes(h[:4], "little") % self.dim] += 1.0 if h[4] & 1 else -1.0
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        v += 0.25 * np.random.default_rng(seed).standard_normal(self.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.documents_embedded += len(texts)
        return self._encode(texts)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return word_pieces(texts)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.info.name,
            "path": self.info.path,
            "fingerprint": self.info.fingerprint,
            "dim": self.info.dim,
            "max_tokens": self.info.max_tokens,
            "dtype": self.info.dtype,
            **({"passages": self.info.passages} if self.info.passages else {}),
        }


# Made-up news: every word below was written for these tests.
_VOCAB = (  # noqa: SIM905 - a paragraph of words reads better than a list of 60 strings
    "council harbour ferry budget vote mayor river bridge storm school teachers strike museum festival "
    "railway station tunnel engineers orchard farmers drought reservoir lighthouse island fishermen "
    "quota library archive volunteers election ballot district court appeal ruling hospital nurses shift "
    "clinic vaccine winter heating prices market traders bakery flour wheat harvest glacier climbers "
    "rescue"
).split()


def made_up_text(seed: int, sentences: int = 12, paragraph_every: int = 4) -> str:
    """Deterministic made-up news prose: sentences of vocabulary words, paragraphs split by blank lines."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for i in range(sentences):
        words = [str(w) for w in rng.choice(_VOCAB, size=int(rng.integers(6, 16)))]
        sentence = " ".join(words).capitalize() + "."
        if i % 5 == 2:
            sentence = f"Mr. Okafor of the U.S. office said {sentence[0].lower()}{sentence[1:]}"
        out.append(sentence)
        if (i + 1) % paragraph_every == 0 and i + 1 < sentences:
            out.append("\n\n")
        else:
            out.append(" ")
    return "".join(out).strip()


def made_up_articles(n: int = 7) -> list[dict[str, Any]]:
    """`n` JSONL-ready records in Dateline's field names, with distinct ids, titles, texts and dates."""
    records: list[dict[str, Any]] = [
        {
            "id": "ferry-strike",
            "title": "Ferry crews strike over winter shifts",
            "text": "Ferry crews walked out on Monday over winter shift rotas. The harbour master said crossings to "
            "the island would stop until Thursday.\n\nUnion leaders said talks with the council had failed twice.",
            "date": "2024-02-05",
            "source": "The Harbour Gazette",
            "url": "https://www.harbour-gazette.example/ferry-strike",
        }
    ]
    for i in range(n - 1):
        records.append(
            {
                "id": f"story-{i:03d}",
                "title": f"Harbour council story number {i}: ferries, budgets and storms",
                "text": made_up_text(1000 + i, sentences=8 + 3 * i),
                "date": f"2024-0{1 + i % 9}-1{i % 10}",
                "source": "The Harbour Gazette",
                "url": f"https://www.harbour-gazette.example/story-{i}",
            }
        )
    return records


def write_jsonl(path: Path, records: Sequence[dict[str, Any] | str]) -> Path:
    """Write records (dicts, or raw lines as strings) one a line."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def real_articles(n: int, where: Callable[[Article], bool] | None = None) -> list[Article]:
    """The first `n` articles of the shared corpus that `where` accepts, read by Dateline's reader; skips if absent."""
    need_shared_data(CORPUS)
    found: list[Article] = []
    with contextlib.closing(read_articles([CORPUS])) as records:
        for record in records:
            if isinstance(record, Article) and (where is None or where(record)):
                found.append(record)
                if len(found) >= n:
                    break
    return found


def unit_queries(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """n random query vectors of length one."""
    q = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def fake_split_settings() -> SplitSettings:
    """Windows small enough that the made-up articles split into several passages with the fake counter."""
    return SplitSettings(max_tokens=128, overlap_tokens=16, max_title_tokens=24)


def fake_build(inputs: Sequence[Path], index_dir: Path, encoder: FakeEncoder | None = None, **kwargs: Any) -> Any:
    """build_index with the fake encoder and small windows, no progress bar."""
    from index.build import build_index

    return build_index(inputs, index_dir, encoder or FakeEncoder(), fake_split_settings(), progress=False, **kwargs)


def fake_index(folder: Path, records: Sequence[dict[str, Any]], name: str = "news.jsonl") -> Path:
    """`records` written to folder/name and fake-built into folder/index; returns the index folder."""
    fake_build([write_jsonl(folder / name, records)], folder / "index")
    return folder / "index"


def wire_copies() -> list[dict[str, Any]]:
    """Made-up articles plus the ferry story re-printed by two other outlets (new ids, headlines and sign-offs)."""
    records = made_up_articles(30)
    story = records[5]
    for n, outlet in enumerate(("The Island Courier", "Valley Post"), start=1):
        records.append(
            {
                **story,
                "id": f"{story['id']}-copy{n}",
                "title": f"{story['title']} ({outlet})",
                "text": story["text"] + f"\n\nThis story first ran in The Harbour Gazette; republished by {outlet}.",
                "source": outlet,
                "url": f"https://{outlet.lower().replace(' ', '-')}.example/{story['id']}",
            }
        )
    return records


def query_for(story: dict[str, Any]) -> str:
    return " ".join(story["text"].split()[:12])


def run_cli(main: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """A CLI's main(argv): its exit code, what it printed and what it wrote to stderr."""
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err
