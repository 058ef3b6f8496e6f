"""Texts a pattern matches, generated from its syntax tree: to check a prefilter against them.

A declared prefilter is a promise that every text the regex matches holds one of its literals; a
wrong one silently hides attacks. `firewall signatures lint` walks the pattern's tree (the parser
`literals` uses) and builds random texts along it: a random branch of each alternation, a random
count of each repeat, a random member of each class; what a positive lookbehind needs goes in
front. Every other walk takes, at each alternation, a branch the walks have taken least so far:
each branch of a long or nested alternation is reached within a few walks of its parent, not
left to chance. Other lookarounds and anchors are not built
for, so a text is kept only if the compiled pattern really matches it.
"""

from __future__ import annotations

import random
import string
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import regex

from .literals import parse_pattern

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as c

EXTRA_REPEATS = 3
"""A repeat is built at most this many times past its minimum."""

_POOL = string.printable + "\x00\x01\x1f\x7f\x85\xa0\xad\u200b\u2028\ufeff\ufffdéÅßİſＡａ＜／．"
"""Characters a class may be filled from: ASCII, controls, look-alikes and invisible ones."""

def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


_CATEGORIES: dict[Any, Callable[[str], bool]] = {
    c.CATEGORY_DIGIT: str.isdigit,
    c.CATEGORY_SPACE: str.isspace,
    c.CATEGORY_WORD: _is_word,
}
_NEGATED = {
    c.CATEGORY_NOT_DIGIT: c.CATEGORY_DIGIT,
    c.CATEGORY_NOT_SPACE: c.CATEGORY_SPACE,
    c.CATEGORY_NOT_WORD: c.CATEGORY_WORD,
}


def sample_matches(pattern: str, count: int, seed: str) -> list[str]:
    """Up to `count` distinct texts the pattern matches (fewer when many built texts fail its
    lookarounds or anchors); [] when the parser does not know its syntax."""
    parsed = parse_pattern(pattern)
    if parsed is None:
        return []
    items, flags = parsed
    compiled = regex.compile(pattern)
    rng = random.Random(seed)  # noqa: S311 - reproducible test texts, not secrets
    found: dict[str, None] = {}
    classes: dict[int, list[str]] = {}
    taken: dict[int, list[int]] = {}
    for walk in range(count * 4):
        builder = _Builder(rng, bool(flags & c.SRE_FLAG_IGNORECASE), classes, taken if walk % 2 else None)
        text = "".join(builder.sequence(items))
        text = "".join(builder.before) + text
        if text not in found and compiled.search(text, timeout=0.1) is not None:
            found[text] = None
            if len(found) == count:
                break
    return list(found)


class _Builder:
    """One random walk of a syntax tree."""

    def __init__(
        self,
        rng: random.Random,
        ignore_case: bool,
        classes: dict[int, list[str]],
        taken: dict[int, list[int]] | None = None,
    ) -> None:
        self.rng = rng
        self.taken = taken
        """Per alternation (by id of its node), how often the covering walks took each branch; None
        for a walk that picks branches at random."""
        self.ignore_case = ignore_case
        self.groups: dict[int, str] = {}
        self.classes = classes
        """Per class (by id of its node), the pool characters it admits: shared by the walks."""
        self.before: list[str] = []
        """Texts of positive lookbehinds, put in front of the walk's text: a lookbehind mostly
        describes what comes before the items that precede it (`<!doctype x [` before `<!entity`)."""

    def sequence(self, items: list[tuple[Any, Any]]) -> Iterator[str]:
        for op, av in items:
            yield from self.item(op, av)

    def item(self, op: Any, av: Any) -> Iterator[str]:
        if op is c.LITERAL:
            yield self.cased(chr(av))
        elif op is c.NOT_LITERAL:
            yield self.rng.choice([ch for ch in _POOL if ord(ch) != av])
        elif op is c.ANY:
            yield self.rng.choice(_POOL.replace("\n", ""))
        elif op is c.IN:
            yield self.member(av)
        elif op is c.BRANCH:
            yield from self.sequence(list(self.branch(av[1])))
        elif op is c.SUBPATTERN:
            group, *_rest, inner = av
            text = "".join(self.sequence(list(inner)))
            if group is not None:
                self.groups[group] = text
            yield text
        elif op is c.ATOMIC_GROUP:
            yield from self.sequence(list(av))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, inner = av
            top = low + EXTRA_REPEATS if high is c.MAXREPEAT else min(high, low + EXTRA_REPEATS)
            for _ in range(self.rng.randint(low, top)):
                yield from self.sequence(list(inner))
        elif op is c.GROUPREF:
            yield self.groups.get(av, "")
        elif op is c.GROUPREF_EXISTS:
            group, yes, no = av
            chosen = yes if group in self.groups else no
            if chosen is not None:
                yield from self.sequence(list(chosen))
        elif op is c.ASSERT and av[0] < 0:
            self.before.append("".join(self.sequence(list(av[1]))))
        # AT, ASSERT_NOT and lookaheads: nothing to build; the final search decides

    def branch(self, alternatives: list[Any]) -> Any:
        """A random branch, or for a covering walk one of those taken least so far."""
        if self.taken is None:
            return self.rng.choice(alternatives)
        counts = self.taken.setdefault(id(alternatives), [0] * len(alternatives))
        least = min(counts)
        index = self.rng.choice([i for i, n in enumerate(counts) if n == least])
        counts[index] += 1
        return alternatives[index]

    def cased(self, ch: str) -> str:
        return ch.upper() if self.ignore_case and self.rng.random() < 0.5 else ch

    def member(self, items: list[tuple[Any, Any]]) -> str:
        """A random character of a class: one it names, or one of the pool it admits."""
        negated = bool(items) and items[0][0] is c.NEGATE
        named = [] if negated else [chr(av) for op, av in items if op is c.LITERAL]
        named += [] if negated else [chr(self.rng.randint(*av)) for op, av in items if op is c.RANGE]
        admitted = self.classes.get(id(items))
        if admitted is None:
            admitted = self.classes[id(items)] = [ch for ch in _POOL if _in_class(ch, items) != negated]
        choices = named + admitted
        return self.cased(self.rng.choice(choices)) if choices else ""


def _in_class(ch: str, items: list[tuple[Any, Any]]) -> bool:
    """Whether `ch` is one of the class's members (its NEGATE left to the caller)."""
    for op, av in items:
        if op is c.LITERAL and ord(ch) == av:
            return True
        if op is c.RANGE and av[0] <= ord(ch) <= av[1]:
            return True
        if op is c.CATEGORY:
            if av in _CATEGORIES and _CATEGORIES[av](ch):
                return True
            if av in _NEGATED and not _CATEGORIES[_NEGATED[av]](ch):
                return True
    return False
