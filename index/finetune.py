"""Opt-in: adapt the embedding model to an archive with its own free training pairs (headline -> its passages).

Contrastive fine-tuning with in-batch negatives (sentence-transformers' MultipleNegativesRankingLoss) on the
CPU, in bf16 autocast where the CPU has it. The anchor is an article's title; the positive is one of its
passages *without* the title (with it the task would be string matching). Articles named in `exclude` (for a
benchmark: every article an evaluation question points to) never reach training. The tuned model is saved as a
sentence-transformers folder, by default beside the index (`<index>/models/tuned`), to be used with
`rebuild-index --model <folder>`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from index.embed import cpu_has_bf16, offline, resolve_model
from index.reader import IndexReader


@dataclass(frozen=True, slots=True)
class TuneSettings:
    max_pairs: int = 20_000  # (title, passage) pairs drawn from the archive
    passages_per_article: int = 2  # the first passages carry the story a headline announces
    batch_size: int = 32  # in-batch negatives: 31 other articles' passages per title
    epochs: int = 1
    learning_rate: float = 2e-5
    warmup: float = 0.1  # share of steps with a linearly rising learning rate
    max_tokens: int = 256
    seed: int = 13


def training_pairs(
    reader: IndexReader, settings: TuneSettings, exclude: Iterable[str] = ()
) -> list[tuple[str, str, str]]:
    """(article_id, title, passage text) pairs: at most `passages_per_article` per article, excluded ids left out."""
    skip = set(exclude)
    per_article: dict[str, int] = {}
    pairs = []
    for p in reader.iter_passages():
        if p.article_id in skip or not p.title.strip():
            continue
        if per_article.get(p.article_id, 0) >= settings.passages_per_article:
            continue
        per_article[p.article_id] = per_article.get(p.article_id, 0) + 1
        pairs.append((p.article_id, p.title, p.text))
    rng = random.Random(settings.seed)
    rng.shuffle(pairs)
    return pairs[: settings.max_pairs]


def distinct_batches(
    pairs: list[tuple[str, str, str]], size: int, rng: random.Random
) -> list[list[tuple[str, str, str]]]:
    """Batches with no article twice: a second passage of the same article would be a false negative."""
    pool = pairs[:]
    rng.shuffle(pool)
    batches: list[list[tuple[str, str, str]]] = []
    while pool:
        batch: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        rest = []
        for pair in pool:
            if len(batch) < size and pair[0] not in seen:
                batch.append(pair)
                seen.add(pair[0])
            else:
                rest.append(pair)
        batches.append(batch)
        pool = rest
    return [b for b in batches if len(b) > 1]


def finetune(
    index_dir: Path,
    base_model: str,
    out_dir: Path,
    settings: TuneSettings = TuneSettings(),
    exclude: Iterable[str] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train on the index's (title, passage) pairs and save the tuned model to `out_dir`; returns what was done."""
    offline()
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(settings.seed)
    reader = IndexReader(index_dir)
    try:
        pairs = training_pairs(reader, settings, exclude)
    finally:
        reader.close()
    if len(pairs) < 2 * settings.batch_size:
        raise ValueError(f"only {len(pairs)} training pairs in {index_dir}: too few to fine-tune on")

    model = SentenceTransformer(str(resolve_model(base_model)), device="cpu", local_files_only=True)
    window = model.max_seq_length  # what the model reads at build and query time; training may see less
    model.max_seq_length = settings.max_tokens
    rng = random.Random(settings.seed)
    plan = [b for _ in range(settings.epochs) for b in distinct_batches(pairs, settings.batch_size, rng)]
    bf16 = cpu_has_bf16()
    started = time.perf_counter()
    losses = _train(model, plan, settings, bf16, log)
    model.max_seq_length = window  # else the saved model would cut every passage at the training length
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    record = {
        "base_model": base_model,
        "index": str(index_dir),
        "pairs": len(pairs),
        "excluded_articles": len(set(exclude)),
        "steps": len(plan),
        "bf16_autocast": bf16,
        "seconds": round(time.perf_counter() - started, 1),
        "first_loss": round(sum(losses[:25]) / len(losses[:25]), 4),
        "last_loss": round(sum(losses[-25:]) / len(losses[-25:]), 4),
        "settings": asdict(settings),
    }
    (out_dir / "dateline-finetune.json").write_text(json.dumps(record, indent=2))
    return record


def _train(
    model: Any, plan: list[list[tuple[str, str, str]]], settings: TuneSettings, bf16: bool, log: Callable[[str], None]
) -> list[float]:
    """One optimiser step per batch of `plan` (in-batch negatives, warmup then linear decay); the losses."""
    import torch
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    loss = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    warmup = max(1, int(settings.warmup * len(plan)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (len(plan) - step) / max(1, len(plan) - warmup)))
    )
    model.train()
    started = time.perf_counter()
    losses: list[float] = []
    for step, batch in enumerate(plan, 1):
        titles = model.tokenize([t for _, t, _ in batch])
        texts = model.tokenize([x for _, _, x in batch])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            value = loss([titles, texts], torch.empty(0))
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(float(value.detach()))
        if step % 25 == 0 or step == len(plan):
            recent = losses[-25:]
            rate = step * settings.batch_size / (time.perf_counter() - started)
            log(f"step {step}/{len(plan)}  loss {sum(recent) / len(recent):.4f}  {rate:.1f} pairs/s")
    model.eval()
    return losses
