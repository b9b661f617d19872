"""A generation's near-duplicate groups as layers: the groups as last folded, and the small files of changes edits
wrote since, so an edit writes the groups it changed, never the archive's.

The bottom layer is the build's table (the store's first segment, copied along when that segment is folded) or,
once edits have folded every layer, near-duplicates.json. Each edit that changes a group writes what changed
(article -> its new group, or null: in none) as a new file, folding the newest files into it as
`vectors.merge_plan` says (log-structured, as vector parts: a change is rewritten O(log n) times); a fold that
reaches the bottom writes the groups whole. A build or `compact` starts again from the store's table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from index.generations import GROUPS, group_files, group_part, group_seq, read_list, share, write_list
from index.grouping import Pair, applied
from index.vectors import merge_plan

Change = tuple[str, "str | None"]  # (article_id, its group from now on, None: in none)


class GroupLayers:
    """The group files a generation's manifest lists (read when first asked), over its store's table."""

    def __init__(self, generation: Path, names: Iterable[str]) -> None:
        self.generation = generation
        self.whole = GROUPS in set(names)  # near-duplicates.json is the bottom (else the store's table)
        self.parts = group_files(names)
        self._changes: list[list[Change]] | None = None
        self.bottom_size = 0  # groups in the bottom layer, once `applied` has read it

    @property
    def changes(self) -> list[list[Change]]:
        """Each part's changes, oldest part first."""
        if self._changes is None:
            self._changes = [
                [(str(a), None if g is None else str(g)) for a, g in read_list(self.generation / name, "changes")]
                for name in self.parts
            ]
        return self._changes

    def bottom(self, table: Callable[[], Iterable[Pair]]) -> list[Pair]:
        if not self.whole:
            return list(table())
        return [(str(a), str(g)) for a, g in read_list(self.generation / GROUPS, "groups")]

    def applied(self, table: Callable[[], Iterable[Pair]]) -> list[Pair]:
        """(article_id, group_id) of every grouped article: the bottom with every part's changes, ordered by
        group, then article (as grouping finds them)."""
        found = self.bottom(table)
        self.bottom_size = len(found)
        return applied(found, (c for changes in self.changes for c in changes))

    def write(self, tmp: Path, old: Sequence[Pair], changed: Mapping[str, str | None]) -> None:
        """Into the edit's folder `tmp`: the groups `old` (these layers `applied`) with the edit's changes (article
        -> its new group, None for none) as these layers (hard links) and one part of what changed, the newest
        parts folded into it; or all of them folded into near-duplicates.json when the fold reaches the bottom."""
        kept, whole = list(self.parts), self.whole
        if changed:
            fold = merge_plan([self.bottom_size, *map(len, self.changes), len(changed)]) - 1  # the parts folded
            if fold == len(self.parts) + 1:  # the bottom too: the groups whole
                write_list(tmp / GROUPS, "groups", applied(old, changed.items()))
                kept, whole = [], False
            else:
                folded = dict(c for changes in self.changes[len(self.parts) - fold :] for c in changes)
                folded.update(changed)
                kept = self.parts[: len(self.parts) - fold]
                seq = max(map(group_seq, self.parts), default=0) + 1
                write_list(tmp / group_part(seq), "changes", sorted(folded.items()))
        for name in [GROUPS] * whole + kept:
            share(self.generation / name, tmp / name)
