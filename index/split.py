"""Article -> passages: sentence-aware windows that fit the model's token limit, with overlap; pure, no I/O.

Token counts come from the caller (the model's own tokenizer), so a passage plus its title never exceeds what
the model reads: nothing is silently truncated. A sentence too long for a window on its own is cut between
words, never inside one; every character of the article text lands in some passage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.articles import Article, Passage

TokenCounter = Callable[[Sequence[str]], list[int]]

# A sentence ends at . ! ? (optionally closed by quotes or brackets) followed by space and a capital, digit
# or opening quote; a blank line (paragraph) always ends one. Abbreviations below do not end sentences.
_BOUNDARY = re.compile(r"""[.!?]["'”’)\]]*(\s+)(?=["'“‘(\[]?[A-Z0-9])|(\n\s*\n)""")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "gen",
        "gov",
        "sen",
        "rep",
        "rev",
        "lt",
        "col",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "maj",
        "pres",
        "sec",
        "dept",
        "corp",
        "inc",
        "ltd",
        "co",
        "no",
        "vs",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "d.c",
        "ft",
        "fig",
        "approx",
        "est",
    ]
)
_LAST_WORD = re.compile(r"""([A-Za-z][A-Za-z.]*)\.["'”’)\]]*$""")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class SplitSettings:
    max_tokens: int = 256  # the model's limit, special tokens and title included
    overlap_tokens: int = 48  # at most this many tokens of whole sentences repeat from the previous window
    max_title_tokens: int = 48  # the title given to the embedding is cut to this (the title, never the text)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text`, whitespace excluded, in order."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        gap_start, gap_end = m.span(1) if m.group(1) is not None else m.span(2)
        last = _LAST_WORD.search(text[start:gap_start])
        if last and "\n" not in text[gap_start:gap_end]:
            word = last[1]
            if word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper()):
                continue  # "Mr. Putin", "the U.S. said", "George W. Bush": not an end
        spans.append((start, gap_start))
        start = gap_end
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _cut_long(
    text: str, span: tuple[int, int], tokens: int, budget: int, count: TokenCounter
) -> list[tuple[int, int, int]]:
    """Cut a span longer than `budget` tokens between words into pieces that fit; returns (start, end, tokens)."""
    if tokens <= budget:
        return [(span[0], span[1], tokens)]
    words = [(span[0] + m.start(), span[0] + m.end()) for m in _WORD.finditer(text[span[0] : span[1]])]
    counts = count([text[s:e] for s, e in words])
    pieces: list[tuple[int, int, int]] = []
    cur_start, cur_end, cur_tokens = -1, -1, 0
    for (s, e), n in zip(words, counts, strict=True):
        if n > budget:  # a single "word" (a URL, a table row) longer than a window: cut by characters
            if cur_start >= 0:
                pieces.append((cur_start, cur_end, cur_tokens))
                cur_start, cur_tokens = -1, 0
            pieces.extend(_cut_chars(text, s, e, budget, count))
            continue
        if cur_start >= 0 and cur_tokens + n > budget:
            pieces.append((cur_start, cur_end, cur_tokens))
            cur_start, cur_tokens = -1, 0
        if cur_start < 0:
            cur_start = s
        cur_end, cur_tokens = e, cur_tokens + n
    if cur_start >= 0:
        pieces.append((cur_start, cur_end, cur_tokens))
    return pieces


def _cut_chars(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[tuple[int, int, int]]:
    pieces = []
    s = start
    while s < end:
        lo, hi = s + 1, end  # longest prefix that fits, by bisection on the character count
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count([text[s:mid]])[0] <= budget:
                lo = mid
            else:
                hi = mid - 1
        pieces.append((s, lo, count([text[s:lo]])[0]))
        s = lo
    return pieces


def title_budget(title: str, settings: SplitSettings, count: TokenCounter) -> tuple[str, int]:
    """The title as the embedding will see it (stripped, cut between words to max_title_tokens) and its count."""
    title = title.strip()
    if not title:
        return "", 0
    n = count([title])[0]
    cap = min(settings.max_title_tokens, settings.max_tokens // 4)  # a small window keeps room for text
    if n <= cap:
        return title, n
    pieces = _cut_long(title, (0, len(title)), n, cap, count)
    s, e, n = pieces[0]
    return title[s:e], n


def split_article(article: Article, count: TokenCounter, settings: SplitSettings = SplitSettings()) -> list[Passage]:
    """Split an article into overlapping passages that fit `settings.max_tokens` together with its title."""
    _, title_tokens = title_budget(article.title, settings, count)
    # [CLS] title [SEP-like newline] passage [SEP]: two special tokens; the newline adds none.
    budget = settings.max_tokens - 2 - title_tokens
    if budget < 16:
        raise ValueError(f"max_tokens={settings.max_tokens} leaves no room for text after the title")
    text = article.text
    spans = sentence_spans(text)
    if not spans:
        return []
    counts = count([text[s:e] for s, e in spans])
    units: list[tuple[int, int, int]] = []
    for span, n in zip(spans, counts, strict=True):
        units.extend(_cut_long(text, span, n, budget, count))

    passages: list[Passage] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and total + units[j][2] <= budget:
            total += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        n = len(passages)
        passages.append(Passage(f"{article.article_id}#{n}", article.article_id, n, start, end, text[start:end]))
        if j >= len(units):
            break
        # Next window starts with the trailing whole sentences of this one that fit the overlap, if any.
        back, overlap = j, 0
        while back - 1 > i and overlap + units[back - 1][2] <= settings.overlap_tokens:
            back -= 1
            overlap += units[back][2]
        i = back
    return passages


def embedding_text(title: str, passage_text: str) -> str:
    """What the model embeds for a passage: its (possibly cut) title, a newline, the passage text."""
    return f"{title}\n{passage_text}" if title else passage_text
