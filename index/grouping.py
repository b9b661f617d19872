"""Near-duplicate groups of articles by id, from their MinHash signatures (index/dedup.py): grouped anew (a build,
`compact`), or regrouped where an edit changed them. Pure.

A group is named by its first article id, so the same articles group alike however they are stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from index import dedup
from index.manifest import NearDuplicates

Pair = tuple[str, str]  # (article_id, group_id: the group's first article id)


def near_duplicate_pairs(signed: Iterable[tuple[str, bytes]]) -> tuple[list[Pair], NearDuplicates]:
    """(article_id, group_id) of every grouped article, from (article_id, signature) pairs, and the manifest's
    summary; groups are found in article id order."""
    ids, signatures = [], []
    for article_id, blob in sorted(signed):
        ids.append(article_id)
        signatures.append(np.frombuffer(blob, dtype=np.uint32))
    found = dedup.groups(signatures)
    return [(ids[i], ids[members[0]]) for members in found for i in members], summary_of(found)


def summary_of(groups: Iterable[Sequence[object]]) -> NearDuplicates:
    """The manifest's summary of `groups` (each its members)."""
    sizes = [len(members) for members in groups]
    return NearDuplicates("minhash", dedup.SHINGLE, dedup.NUM_PERM, dedup.THRESHOLD, len(sizes), sum(sizes))


def regrouped(
    base: Iterable[Pair], signed: Mapping[str, bytes], changed: set[str]
) -> tuple[dict[str, str | None], NearDuplicates]:
    """What `near_duplicate_pairs` gives for the live articles after an edit, from the `base` groups it started
    from and the articles it `changed` (deleted, added or replaced): (the changes, article -> its new group or None
    for none, and the summary of every group). `signed` holds the live signatures of at least the changed articles, the
    other members of their groups and every article sharing an LSH band with a changed one (all of them do): an
    article missing from it is deleted if `changed`, else live. Only the groups holding a changed article or a
    near-copy of one are regrouped, so the work is about the edit's, not the archive's."""
    group_of = dict(base)
    members: dict[str, list[str]] = {}
    for article_id, group_id in group_of.items():
        members.setdefault(group_id, []).append(article_id)
    ids = sorted(signed)
    at = {a: i for i, a in enumerate(ids)}
    signatures = np.frombuffer(b"".join(signed[a] for a in ids), dtype=np.uint32).reshape(len(ids), dedup.NUM_PERM)
    touched = {group_of[a] for a in changed if a in group_of}  # regrouped from their pairs
    again = sorted(at[a] for g in touched for a in members[g] if a not in changed and a in at)
    edges = {(ids[again[i]], ids[again[j]]) for i, j, _ in dedup.pairs([signatures[r] for r in again])}
    near = dedup.pairs_with(signatures, [at[a] for a in changed if a in at])
    edges |= {(ids[i], ids[j]) for i, j in near}
    joined = {group_of[a] for e in edges for a in e if a in group_of} - touched  # kept whole, maybe joined
    region = {a for g in touched | joined for a in members[g]} | changed | {a for e in edges for a in e}
    live = sorted(a for a in region if a in signed or a not in changed)
    local = {a: i for i, a in enumerate(live)}
    seeds = [[local[a] for a in members[g]] for g in sorted(joined)]
    found = dedup.join(len(live), ((local[a], local[b]) for a, b in edges), seeds)
    new = {live[i]: live[m[0]] for m in found for i in m}
    changes = {a: new.get(a) for a in sorted(region) if group_of.get(a) != new.get(a)}
    before = [len(members[g]) for g in touched | joined]  # the groups regrouped, as they were
    groups, grouped = len(members) - len(before) + len(found), len(group_of) - sum(before) + sum(map(len, found))
    return changes, dataclasses.replace(summary_of(found), groups=groups, articles=grouped)


def applied(groups: Iterable[Pair], changes: Iterable[tuple[str, str | None]]) -> list[Pair]:
    """`groups` with `changes` (article -> its new group, None for none), ordered by group, then article."""
    group_of = dict(groups)
    for article_id, group_id in changes:
        if group_id is None:
            group_of.pop(article_id, None)
        else:
            group_of[article_id] = group_id
    return sorted(group_of.items(), key=lambda pair: (pair[1], pair[0]))
