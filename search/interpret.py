"""interpret(query, today) -> Understood: the query's period of time and its phrases, read as people write them.

A time expression ("October 2022", "last week") becomes a soft date prior and stops counting as query words; an
explicit "quoted phrase" and a capitalised multi-word name ("New START", "Silicon Valley Bank") become phrases the
lexical ranking rewards where their words stand together. What is found, how it ranks and what each part is worth
is docs/queries.md.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from search.timewords import Period, find_period

__all__ = ["Period", "Understood", "interpret"]

_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”")
_TOKEN = re.compile(r"[^\s\"“”()\[\]{}]+")
_EDGE = ".,;:!?'’"
# Words that open a sentence with a capital letter without being a name: a name never starts with one of them.
_OPENER_WORDS = (
    "a an the this that these those what which who whom whose why how when where did does do is are was were "
    "will would can could should has have had in on at to for from of by with after before despite according "
    "as if while since during nearly about over under some many most more all each every his her its their our "
    "my your i we you he she it they there here then so but and or not no yes"
)
_OPENERS = frozenset(_OPENER_WORDS.split())
_JOINER_WORDS = "of the and for de la von van du del da & on"
_JOINERS = frozenset(_JOINER_WORDS.split())  # inside a name: Bank of America
MAX_PHRASES = 4
# Capitalised names are read in keyword-length queries, where a common word of a name ("New START") would
# otherwise count as itself; in a longer sentence BM25 over its many words finds the names as well, and phrase
# matches of names with their titles ("Democrat John Fetterman") cost more than they gain (docs/queries.md).
NAME_MAX_WORDS = 12


@dataclass(frozen=True, slots=True)
class Understood:
    """What was read in a query: `text` is what the retrievers get (the query less its time words)."""

    query: str
    text: str
    time: Period | None = None
    phrases: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, object]:
        """The response's `understood`: {"time": {"text", "from", "to"} or null, "phrases": [...]}."""
        t = self.time
        time = t and {"text": t.text, "from": t.start.isoformat(), "to": t.end.isoformat()}
        return {"time": time or None, "phrases": list(self.phrases)}


def _name_like(token: str) -> bool:
    word = token.strip(_EDGE)
    return bool(word) and word[0].isupper()


def _names(text: str) -> list[str]:
    """Runs of two or more capitalised words (joiners like "of" allowed inside), not opening with a sentence word.

    When nearly every word is capitalised (a title-cased or shouted query), case says nothing: no names."""
    tokens = [(m.group(0), m.start()) for m in _TOKEN.finditer(text)]
    words = [t for t, _ in tokens if t.strip(_EDGE)]
    if len(words) > 2 and sum(map(_name_like, words)) >= 0.8 * len(words):
        return []
    names: list[str] = []
    run: list[str] = []

    def close() -> None:
        while run and run[-1].strip(_EDGE).lower() in _JOINERS:
            run.pop()
        if sum(_name_like(w) for w in run) >= 2:
            names.append(" ".join(w.strip(_EDGE).removesuffix("'s").removesuffix("’s") for w in run))
        run.clear()

    for i, (token, _) in enumerate(tokens):
        word = token.strip(_EDGE)
        sentence_start = i == 0 or tokens[i - 1][0].endswith((".", "?", "!", ":"))
        name = _name_like(token) and not (sentence_start and word.lower() in _OPENERS)
        joiner = bool(run) and word.lower() in _JOINERS and not token.endswith(tuple(_EDGE))
        if name or joiner:
            run.append(token)
        else:
            close()
        if token != token.rstrip(_EDGE) and not token.endswith("."):  # a comma or question mark ends a name
            close()
    close()
    return names


def phrases_of(text: str) -> list[str]:
    """The quoted phrases of two or more words, then the capitalised names outside quotes; at most MAX_PHRASES."""
    found: list[str] = []
    for m in _QUOTED.finditer(text):
        phrase = " ".join((m.group(1) or m.group(2)).split())
        if len(phrase.split()) > 1:
            found.append(phrase)
    unquoted = _QUOTED.sub(" , ", text)
    for name in _names(unquoted) if len(unquoted.split()) <= NAME_MAX_WORDS else []:
        if name not in found:
            found.append(name)
    return found[:MAX_PHRASES]


def interpret(query: str, today: datetime.date, ignore: Collection[str] = ()) -> Understood:
    """Read `query`'s time expression (relative ones counted back from `today`, the as_of day else today) and
    its phrases. `ignore` names the parts the user removed: "time", or a phrase as given in `phrases`."""
    period = None if "time" in ignore else find_period(query, today)
    text = query
    if period is not None:
        rest = f"{query[: period.span[0]]} {query[period.span[1] :]}"
        text = " ".join(rest.split()) if any(ch.isalnum() for ch in rest) else query
    phrases = tuple(p for p in phrases_of(text) if p not in ignore)
    return Understood(query, text, period, phrases)
