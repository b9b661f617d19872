"""The manifest: a generation's typed description, and the ONLY place that knows older manifest layouts.

`Manifest.from_json` reads what any version wrote (filling what older ones left out) and refuses another
format; `to_json` writes today's keys in today's order. `Manifest.create` is the one place a manifest is made,
by a build, a compaction or an edit, from the `Origin` its writer was given.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from index import lexical
from index.errors import IndexCorrupt
from index.generations import LEXICAL, REBUILD, read_json
from index.split import SplitSettings

FORMAT = "dateline-index"
# 2: near-duplicate groups may come in layers (near-duplicates-<n>.json) and store segments may hold LSH band
# tables; a reader that knows only 1 would serve the groups as they were before the edits, so it must refuse.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1 is 2 without layers or band tables: read as is
T = TypeVar("T")
VERSIONED = ("sentence-transformers", "torch", "transformers", "faiss-cpu", "numpy")  # after dateline itself


def _record(cls: type[T], found: Mapping[str, Any]) -> T:
    """A record from its JSON object; keys this version does not know (a later version's) are ignored."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in found.items() if k in names})


def _present(record: Any) -> dict[str, Any]:
    """A record's fields as JSON, leaving out those that are None (absent in the manifest it came from)."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if getattr(record, f.name) is not None}


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """The embedding model a generation was built with (index/embed.py's ModelInfo, as recorded)."""

    name: str
    path: str
    fingerprint: str
    dim: int | None = None
    max_tokens: int | None = None
    dtype: str | None = None  # absent in manifests from before the dtype was recorded
    passages: str | None = None  # the passage path that made the vectors (index/embed.py); absent before paths

    @classmethod
    def from_json(cls, found: Mapping[str, Any]) -> ModelRecord:
        known: dict[str, Any] = {f.name: found.get(f.name) for f in dataclasses.fields(cls)}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Counts:
    """Articles and passages stored; vectors = passages + deleted (a deleted passage keeps its vector until
    `compact`)."""

    articles: int
    passages: int
    vectors: int
    deleted: int = 0


@dataclass(frozen=True, slots=True)
class VectorIndex:
    type: str  # the FAISS spec: Flat, HNSW32, ...
    metric: str = "inner_product"
    faiss: str | None = None


@dataclass(frozen=True, slots=True)
class LexicalMeta:
    """The BM25 index: its field layout, and whether `row` is indexed (filters then run inside it)."""

    fields: tuple[str, ...] = tuple(lexical.FIELDS)
    row_terms: bool = True
    documents: int | None = None
    engine: str = "tantivy"
    tokenizer: str = lexical.TOKENIZER
    ranking: str = "bm25"
    folder: str = LEXICAL

    @property
    def editable(self) -> bool:
        """Today's layout, which an edit changes in place (an older one is rebuilt once)."""
        return list(self.fields) == lexical.FIELDS and self.row_terms

    @classmethod
    def from_json(cls, found: Mapping[str, Any]) -> LexicalMeta:
        return cls(
            fields=tuple(found.get("fields", lexical.LEGACY_FIELDS)),  # absent: the title + text layout
            row_terms=bool(found.get(lexical.ROW_TERMS)),  # absent: `row` not indexed
            documents=found.get("documents"),
            **{k: found[k] for k in ("engine", "tokenizer", "ranking", "folder") if k in found},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"engine": self.engine, "tokenizer": self.tokenizer, "fields": list(self.fields)}
        out |= {lexical.ROW_TERMS: self.row_terms, "ranking": self.ranking}
        if self.documents is not None:
            out["documents"] = self.documents
        return out | {"folder": self.folder}


@dataclass(frozen=True, slots=True)
class NearDuplicates:
    """How near-duplicate articles were grouped (index/dedup.py) and how many."""

    method: str
    shingle_words: int
    permutations: int
    threshold: float
    groups: int
    articles: int


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    of: int
    build: str  # shared by the shards of one build


@dataclass(frozen=True, slots=True)
class FileEntry:
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Origin:
    """What a writer is told about the generation it writes: model, splitter, software and how it came about."""

    model: ModelRecord
    splitter: SplitSettings
    versions: Mapping[str, str]
    build: Mapping[str, Any] | None = None  # the build report (a build), kept by edits and compaction
    shard: Shard | None = None  # one of several shards of one build
    compacted: Mapping[str, Any] | None = None  # {base, dropped_rows} of a compaction

    @classmethod
    def built(
        cls, model: Mapping[str, Any], splitter: SplitSettings, build: Mapping[str, Any], shard: Shard | None = None
    ) -> Origin:
        """A build's origin: `model` as the encoder describes itself, the software versions of this process."""
        return cls(ModelRecord.from_json(model), splitter, versions(), build, shard)


@dataclass(frozen=True, slots=True)
class Manifest:
    """One generation's manifest.json, typed."""

    generation: str
    created: str
    model: ModelRecord
    splitter: SplitSettings
    versions: Mapping[str, str]
    build: Mapping[str, Any] | None
    shard: Shard | None
    compacted: Mapping[str, Any] | None
    dim: int
    counts: Counts
    index: VectorIndex
    lexical: LexicalMeta | None  # None: built before the lexical index
    near_duplicates: NearDuplicates | None  # None: built before near-duplicate grouping
    update: Mapping[str, Any] | None  # the add/delete that made this generation (with its base)
    files: Mapping[str, FileEntry]

    @classmethod
    def create(
        cls,
        origin: Origin,
        *,
        generation: str,
        dim: int,
        counts: Counts,
        index: VectorIndex,
        lexical: LexicalMeta | None,
        near_duplicates: NearDuplicates | None,
        files: Mapping[str, FileEntry],
        update: Mapping[str, Any] | None = None,
    ) -> Manifest:
        """The manifest of a generation being written now (the one place a manifest is made)."""
        return cls(
            generation=generation,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **{f.name: getattr(origin, f.name) for f in dataclasses.fields(Origin)},
            dim=dim,
            counts=counts,
            index=index,
            lexical=lexical,
            near_duplicates=near_duplicates,
            update=update,
            files=files,
        )

    @property
    def origin(self) -> Origin:
        return Origin(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Origin)})

    @classmethod
    def read(cls, generation: Path) -> Manifest:
        """The manifest of a generation folder; IndexCorrupt (saying to rebuild) if unreadable or another format."""
        return cls.from_json(read_json(generation), where=generation)

    @classmethod
    def from_json(cls, found: Mapping[str, Any], where: Path | str = "the index") -> Manifest:
        if found.get("format") != FORMAT or found.get("format_version") not in READABLE_VERSIONS:
            raise IndexCorrupt(
                f"{where} is not a {FORMAT} index of version {' or '.join(map(str, READABLE_VERSIONS))} (found "
                f"{found.get('format')} v{found.get('format_version')}): rebuild it with this version of Dateline, "
                "or read it with the version that wrote it"
            )
        try:
            counts = found["counts"]
            passages = counts["passages"]
            return cls(
                generation=found["generation"],
                created=found["created"],
                model=ModelRecord.from_json(found["model"]),
                splitter=_record(SplitSettings, found["splitter"]),
                versions=found.get("versions", {}),
                build=found.get("build"),
                shard=_record(Shard, found["shard"]) if "shard" in found else None,
                compacted=found.get("compacted"),
                dim=found["dim"],
                # vectors and deleted: absent before deletes (every vector was a stored passage)
                counts=Counts(counts["articles"], passages, counts.get("vectors", passages), counts.get("deleted", 0)),
                index=_record(VectorIndex, found["index"]),
                lexical=LexicalMeta.from_json(found["lexical"]) if "lexical" in found else None,
                near_duplicates=(
                    _record(NearDuplicates, found["near_duplicates"]) if "near_duplicates" in found else None
                ),
                update=found.get("update"),
                files={name: FileEntry(e["bytes"], e["sha256"]) for name, e in found["files"].items()},
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise IndexCorrupt(f"{where}: the manifest lacks or garbles {exc}; {REBUILD}") from exc

    def to_json(self) -> dict[str, Any]:
        """The manifest as manifest.json holds it (keys in the order builds have always written them)."""
        out: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
        out |= {"generation": self.generation, "created": self.created, "model": _present(self.model)}
        out |= {"splitter": dataclasses.asdict(self.splitter), "versions": dict(self.versions)}
        if self.build is not None:
            out["build"] = dict(self.build)
        if self.shard is not None:
            out["shard"] = dataclasses.asdict(self.shard)
        if self.compacted is not None:
            out["compacted"] = dict(self.compacted)
        out |= {"dim": self.dim, "counts": dataclasses.asdict(self.counts), "index": _present(self.index)}
        if self.lexical is not None:
            out["lexical"] = self.lexical.to_json()
        if self.near_duplicates is not None:
            out["near_duplicates"] = dataclasses.asdict(self.near_duplicates)
        if self.update is not None:
            out["update"] = dict(self.update)
        out["files"] = {name: dataclasses.asdict(e) for name, e in self.files.items()}
        return out


def versions() -> dict[str, str]:
    """The versions of Python, Dateline and the libraries that shape the index, for the manifest."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("dateline", *VERSIONED):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out
