"""Incremental updates: add (new or changed articles), delete (by id) and compact an existing index.

An add skips an article whose content hash, date, source and url match the stored one; a changed article is
re-split, and only passages whose embedded text is new are embedded (a kept passage reuses its stored vector,
then the embedding cache is asked, then the model). Each call makes at most one new generation (index/edit.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.articles import Article, Passage, Problem, Record, input_files, read_articles
from index.build import Embedder
from index.cache import EmbeddingCache
from index.edit import IndexEditor
from index.embed import Encoder
from index.errors import BuildFailed, ModelMismatch
from index.generations import resolve_generation, store_files, vector_files
from index.intake import Intake, bad_input
from index.manifest import Manifest, versions
from index.reader import IndexReader
from index.segments import opened
from index.split import SplitSettings, embedding_text, split_article, title_budget
from index.writer import IndexWriter


@dataclass
class UpdateReport:
    read: int = 0
    added: int = 0  # new article ids
    updated: int = 0  # ids already stored, with different content
    unchanged: int = 0  # ids already stored with the same content: skipped
    deleted: int = 0
    missing: list[str] = field(default_factory=list)  # ids asked to delete that were not there
    passages: int = 0  # passages written
    reused: int = 0  # vectors taken from the previous version of an updated article
    embedded: int = 0
    cached: int = 0
    embed_seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    generation: str = ""  # the generation now live ("" when nothing changed)

    @property
    def skipped(self) -> int:
        return sum(p.lost for p in self.problems)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)

    def summary(self) -> str:
        missing = f", not found {len(self.missing):,}" if self.missing else ""
        lines = [
            f"read {self.read:,}: added {self.added:,}, updated {self.updated:,}, unchanged {self.unchanged:,}, "
            f"skipped {self.skipped:,}; deleted {self.deleted:,}{missing}",
            f"{self.passages:,} passages written ({self.reused:,} vectors reused, {self.cached:,} from cache, "
            f"{self.embedded:,} embedded) in {self.seconds:,.1f} s",
            f"generation {self.generation}" if self.generation else "nothing changed: the index is as it was",
        ]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "deleted": self.deleted,
            "not_found": self.missing,
            "passages": self.passages,
            "reused": self.reused,
            "embedded": self.embedded,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            "generation": self.generation,
        }


def check_model(manifest: Manifest, encoder: Encoder) -> None:
    built = manifest.model
    if encoder.info.fingerprint != built.fingerprint or encoder.dim != manifest.dim:
        raise ModelMismatch(
            f"the index was built with {built.name} ({built.fingerprint}), not {encoder.info.name} "
            f"({encoder.info.fingerprint}); add with that model"
        )


@dataclass
class Batch:
    """One caller's change: records to add or update, then ids to delete (an id also added here is kept)."""

    records: Iterable[Record]
    delete: Sequence[str] = ()


def add_articles(
    index_dir: Path,
    records: Iterable[Record],
    encoder: Encoder,
    cache_path: Path | None = None,
    strict: bool = False,
    wait: float | None = None,
    delete: Sequence[str] = (),
    merge: bool = True,
) -> UpdateReport:
    """Add or update `records` (Articles; Problems are counted and reported) and delete `delete` ids, in one new
    generation. Nothing is written when nothing changes, or (with `strict`) when any record had a problem.
    `merge=False` leaves the older vector parts unfolded (IndexEditor)."""
    batch = Batch(records, delete)
    return add_batches(index_dir, [batch], encoder, cache_path=cache_path, strict=strict, wait=wait, merge=merge)[0]


def add_batches(
    index_dir: Path,
    batches: Sequence[Batch],
    encoder: Encoder,
    cache_path: Path | None = None,
    strict: bool = False,
    wait: float | None = None,
    merge: bool = True,
) -> list[UpdateReport]:
    """Apply `batches` in order in ONE new generation (group commit: one editor, one commit) and report each on
    its own. A batch sees the ones before it: an id an earlier batch added is an update (or unchanged) in a later
    one, and a later delete removes it. All or nothing: an error leaves the index as it was."""
    started = time.perf_counter()
    reports = [UpdateReport() for _ in batches]
    intakes = [Intake(report) for report in reports]
    taken = [{a.article_id: a for a in intake.accept(b.records)} for intake, b in zip(intakes, batches, strict=True)]
    if strict and (bad := bad_input(p for report in reports for p in report.problems)):
        raise BuildFailed(f"--strict: {len(bad)} problems; the index is unchanged")
    # Nothing new and nothing to delete: answer without the writer lock or a copy of the store.
    if not any(b.delete for b in batches) and _all_unchanged(Path(index_dir), taken):
        for report, articles in zip(reports, taken, strict=True):
            report.unchanged, report.seconds = len(articles), time.perf_counter() - started
        return reports
    editor = IndexEditor(index_dir, wait=wait, merge=merge)
    cache = None
    try:
        check_model(editor.manifest, encoder)
        cache = EmbeddingCache(cache_path, encoder.info.cache_key, encoder.dim) if cache_path else None
        for batch, articles, intake, report in zip(batches, taken, intakes, reports, strict=True):
            _delete(editor, [a for a in batch.delete if a not in articles], report)  # re-added here: the add wins
            todo, reusable = _plan(editor, articles.values(), encoder, editor.manifest.splitter, intake, report)
            _write(editor, todo, reusable, Embedder(encoder, cache, report, batch_size=32), report)
        for report in reports:
            report.seconds = time.perf_counter() - started
        if not any(report.changed for report in reports):
            editor.abort()
            return reports
        final = editor.commit({"kind": "add", **_summed(reports)})
        for report in reports:
            report.generation, report.seconds = final.name, time.perf_counter() - started
        return reports
    except BaseException:
        editor.abort()
        raise
    finally:
        if cache:
            cache.close()


def _all_unchanged(index_dir: Path, batches: Sequence[dict[str, Article]]) -> bool:
    """Every article of every batch is stored exactly so in the live generation (read-only, no lock)."""
    generation = resolve_generation(index_dir)
    with opened(generation, Manifest.read(generation).files) as store:
        return all(len(store.unchanged(articles.values())) == len(articles) for articles in batches)


def _delete(editor: IndexEditor, article_ids: Iterable[str], report: UpdateReport) -> None:
    for article_id in dict.fromkeys(article_ids):
        if editor.delete(article_id):
            report.deleted += 1
        else:
            report.missing.append(article_id)


def _summed(reports: Sequence[UpdateReport]) -> dict[str, Any]:
    """The manifest's record of a group: its batches' counts added up (and how many batches)."""
    summed: dict[str, Any] = {"batches": len(reports)} if len(reports) > 1 else {}
    for report in reports:
        for key, value in report.as_dict().items():
            if key != "generation":
                summed[key] = summed.get(key, 0 if isinstance(value, (int, float)) else []) + value
    summed["seconds"] = round(max(r.seconds for r in reports), 3)
    return summed


Planned = list[tuple[Article, list[Passage], list[str]]]  # article, its passages, their texts as embedded


def _plan(
    editor: IndexEditor,
    articles: Iterable[Article],
    encoder: Encoder,
    settings: SplitSettings,
    intake: Intake,
    report: UpdateReport,
) -> tuple[Planned, dict[str, np.ndarray]]:
    """Split each new or changed article (counted as added or updated) and drop the old version of an updated
    one; returns what to write and the old vectors by their embedded text, for reuse."""
    todo: Planned = []
    reusable: dict[str, np.ndarray] = {}
    for article in articles:
        if editor.is_unchanged(article):
            report.unchanged += 1
            continue
        old = editor.stored(article.article_id)
        passages = split_article(article, encoder.count_tokens, settings)
        if not passages:
            intake.no_text(article)
            continue
        if old is not None:
            _, old_title, rows, texts = old
            title = title_budget(old_title, settings, encoder.count_tokens)[0]
            for text, vector in zip(texts, editor.vectors_of(rows), strict=True):
                reusable[embedding_text(title, text)] = vector
            editor.delete(article.article_id)
            editor.deleted -= 1  # an update, not a deletion
            report.updated += 1
        else:
            report.added += 1
        title = title_budget(article.title, settings, encoder.count_tokens)[0]
        todo.append((article, passages, [embedding_text(title, p.text) for p in passages]))
    return todo, reusable


def _write(
    editor: IndexEditor, todo: Planned, reusable: dict[str, np.ndarray], embed: Embedder, report: UpdateReport
) -> None:
    """Add the planned articles, each passage's vector reused when its embedded text is unchanged, else embedded."""
    texts = [t for _, _, ts in todo for t in ts if t not in reusable]
    fresh = dict(zip(texts, embed(texts), strict=True)) if texts else {}
    for article, passages, ts in todo:
        vectors = np.stack([reusable[t] if t in reusable else fresh[t] for t in ts])
        report.reused += sum(t in reusable for t in ts)
        editor.add(article, passages, vectors)
        report.passages += len(passages)


def add_files(index_dir: Path, inputs: Sequence[str | Path], encoder: Encoder, **kwargs: Any) -> UpdateReport:
    input_files(inputs)  # a missing path or unknown format fails before the lock is taken
    return add_articles(index_dir, read_articles(inputs), encoder, **kwargs)


def delete_articles(index_dir: Path, article_ids: Sequence[str], wait: float | None = None) -> UpdateReport:
    """Delete articles by id in one new generation (none if none of them is there)."""
    started = time.perf_counter()
    report = UpdateReport()
    editor = IndexEditor(index_dir, wait=wait)
    try:
        _delete(editor, article_ids, report)
        report.seconds = time.perf_counter() - started
        if not report.deleted:
            editor.abort()
            return report
        report.generation = editor.commit({"kind": "delete", "deleted": report.deleted}).name
        report.seconds = time.perf_counter() - started
        return report
    except BaseException:
        editor.abort()
        raise


def compact(index_dir: Path, index_spec: str | None = None, wait: float | None = None) -> UpdateReport:
    """Rewrite the live generation without its deleted rows (rows renumbered 0..n-1, vector index rebuilt as one
    file, whatever parts adds left).

    `index_spec` None keeps the index type; "auto" re-chooses it for the new size."""
    started = time.perf_counter()
    report = UpdateReport()
    live = Manifest.read(resolve_generation(Path(index_dir)))
    one_file = len(vector_files(live.files)) == 1 and len(store_files(live.files)) == 1
    if not live.counts.deleted and one_file and index_spec in (None, live.index.type):
        return report  # nothing to drop, nothing to change: no new generation
    writer = IndexWriter(index_dir, live.dim, wait=wait)  # the lock first, then the live generation: no lost update
    try:
        with IndexReader(resolve_generation(Path(index_dir))) as source:
            with opened(source.generation, source.manifest.files) as store:
                for article_row, rows, passages in store.stored_articles():
                    writer.add_stored(article_row, passages, source.vectors(rows))
                    report.passages += len(passages)
                writer.add_signatures(store.signatures())
            manifest = source.manifest
            report.deleted = manifest.counts.deleted
            compacted = {"base": source.generation.name, "dropped_rows": report.deleted}
            origin = dataclasses.replace(manifest.origin, versions=versions(), shard=None, compacted=compacted)
            report.generation = writer.commit(origin, index_spec or manifest.index.type).name
    except BaseException:
        writer.abort()
        raise
    report.seconds = time.perf_counter() - started
    return report
