"""Near-duplicate articles: MinHash signatures of word shingles, banded LSH, union of pairs into groups. Pure.

A wire story printed by twenty papers, or an article re-published under a new id with a changed headline and
footer, is one story to a reader. At index time every article gets a MinHash signature (NUM_PERM minimums of
its 5-word shingles under random hash functions); LSH bands (BANDS x ROWS) propose candidate pairs, and a pair
is kept when its estimated Jaccard similarity (the share of equal signature entries) is at least THRESHOLD.
Kept pairs are joined into groups (union-find); search collapses a group's articles into one hit.

Measured on the whole RealTimeQA corpus: see docs/near-duplicates.md.
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

SHINGLE = 5  # words per shingle
NUM_PERM = 128
BANDS, ROWS = 32, 4  # an LSH band proposes pairs down to Jaccard ~0.4; THRESHOLD decides
THRESHOLD = 0.8
MIN_WORDS = 40  # shorter texts (briefs, stubs, captions) share shingles by chance: never grouped
_WORDS = re.compile(r"\w+")
_rng = np.random.default_rng(20_230_221)  # fixed: signatures must be comparable across builds and processes
# 64-bit multipliers: with 32-bit ones a*x would not wrap, the hash would be monotone in x and every
# "permutation" would pick the same minimum.
_A = _rng.integers(0, 2**64, NUM_PERM, dtype=np.uint64) | np.uint64(1)  # odd multipliers
_B = _rng.integers(0, 2**64, NUM_PERM, dtype=np.uint64)
_EMPTY = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)


def shingles(text: str) -> set[int]:
    """32-bit hashes (CRC-32, stable across processes) of the text's lower-cased 5-word shingles."""
    words = _WORDS.findall(text.lower())
    if len(words) < MIN_WORDS:
        return set()
    return {zlib.crc32(" ".join(words[i : i + SHINGLE]).encode()) for i in range(len(words) - SHINGLE + 1)}


def signature(text: str) -> np.ndarray:
    """The MinHash signature of `text` (uint32[NUM_PERM]); all-max for a text too short to be compared."""
    hashes = shingles(text)
    if not hashes:
        return _EMPTY.copy()
    x = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
    # Multiply-shift hashing: the top 32 bits of (a*x + b) mod 2^64 for random odd a, one row per permutation.
    h = ((_A[:, None] * x[None, :] + _B[:, None]) >> np.uint64(32)).astype(np.uint32)
    return h.min(axis=1)


def band_keys(signed: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(owner, key): one signed 64-bit key per LSH band of each signature (as stored: NUM_PERM uint32 bytes) but
    those of texts too short to compare, and the position in `signed` of the signature each key is of. Equal
    bands give equal keys, so a store can index its articles by band (a key shared by unequal bands only proposes
    a pair that `pairs_with` then refuses)."""
    sigs = np.frombuffer(b"".join(signed), dtype=np.uint32).reshape(len(signed), BANDS, ROWS).astype(np.uint64)
    keys = np.arange(BANDS, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15)
    for r in range(ROWS):
        keys = (keys ^ sigs[:, :, r]) * np.uint64(0xBF58476D1CE4E5B9)
    comparable = np.flatnonzero(~np.all(sigs == np.uint64(_EMPTY[0]), axis=(1, 2)))
    return np.repeat(comparable, BANDS), keys[comparable].view(np.int64).ravel()


def is_comparable(sig: np.ndarray) -> bool:
    return not np.array_equal(sig, _EMPTY)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def pairs(signatures: Sequence[np.ndarray], threshold: float = THRESHOLD) -> Iterable[tuple[int, int, float]]:
    """(i, j, similarity) for i < j whose estimated similarity is at least `threshold`, each pair once."""
    if not len(signatures):
        return
    sigs = np.stack(signatures)
    comparable = np.flatnonzero(~np.all(sigs == _EMPTY, axis=1))
    seen: set[tuple[int, int]] = set()
    for band in range(BANDS):
        for members in _buckets(sigs[comparable, band * ROWS : (band + 1) * ROWS]):
            found = sorted(comparable[members].tolist())
            for pos, i in enumerate(found):
                for j in found[pos + 1 :]:
                    if (i, j) in seen:
                        continue
                    seen.add((i, j))
                    s = similarity(sigs[i], sigs[j])
                    if s >= threshold:
                        yield i, j, s


def _buckets(block: np.ndarray) -> Iterable[np.ndarray]:
    """The positions of each set of 2 or more equal rows of `block` (one LSH band of every signature): the rows
    sorted, then cut where they change (vectorised: a dict of every row's band cost a second at 26,000 articles)."""
    if len(block) < 2:
        return
    assert block.shape[1] == 4  # ROWS: two 64-bit keys hold a band whole
    wide = block.astype(np.uint64)
    high, low = (wide[:, 0] << np.uint64(32)) | wide[:, 1], (wide[:, 2] << np.uint64(32)) | wide[:, 3]
    order = np.lexsort((low, high))
    high, low = high[order], low[order]
    starts = np.flatnonzero(np.r_[True, (high[1:] != high[:-1]) | (low[1:] != low[:-1])])
    ends = np.r_[starts[1:], len(order)]
    for start, end in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist(), strict=True):
        yield order[start:end]


def groups(signatures: Sequence[np.ndarray], threshold: float = THRESHOLD) -> list[list[int]]:
    """Groups (of 2 or more indexes into `signatures`) joined by near-duplicate pairs, each sorted."""
    return join(len(signatures), ((i, j) for i, j, _ in pairs(signatures, threshold)))


def join(n: int, edges: Iterable[tuple[int, int]], seeds: Iterable[Sequence[int]] = ()) -> list[list[int]]:
    """The groups (2 or more of range(n), each sorted, ordered by their first) that `edges` and the already
    joined `seeds` make (union-find)."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    for seed in seeds:
        for j in seed[1:]:
            union(seed[0], j)
    for i, j in edges:
        union(i, j)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[root(i)].append(i)
    return sorted((m for m in members.values() if len(m) > 1), key=lambda m: m[0])


def pairs_with(signatures: np.ndarray, new: Sequence[int], threshold: float = THRESHOLD) -> set[tuple[int, int]]:
    """The pairs (i < j) `pairs` finds among the rows of `signatures` (n x NUM_PERM) that hold one of `new`,
    without comparing the other rows with each other: an add's near-copies among an archive's signatures."""
    comparable = ~np.all(signatures == _EMPTY, axis=1)
    is_new = np.zeros(len(signatures), dtype=bool)
    is_new[np.asarray(new, dtype=np.int64)] = True
    is_new &= comparable
    found: set[tuple[int, int]] = set()
    if not is_new.any():
        return found
    seen: set[tuple[int, int]] = set()
    for band in range(BANDS):
        wide = signatures[:, band * ROWS : (band + 1) * ROWS].astype(np.uint64)
        high, low = (wide[:, 0] << np.uint64(32)) | wide[:, 1], (wide[:, 2] << np.uint64(32)) | wide[:, 3]
        key = high ^ (low * np.uint64(0x9E3779B97F4A7C15))  # a candidate filter; the band is compared whole below
        buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
        for j in np.flatnonzero(np.isin(key, key[is_new]) & comparable).tolist():
            buckets[int(high[j]), int(low[j])].append(j)
        for members in buckets.values():
            for i in (m for m in members if is_new[m]):
                for j in members:
                    pair = (min(i, j), max(i, j))
                    if i != j and pair not in seen:
                        seen.add(pair)
                        if similarity(signatures[i], signatures[j]) >= threshold:
                            found.add(pair)
    return found
