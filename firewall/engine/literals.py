"""Derive a signature's "fast pattern": literals without one of which its regex cannot match.

Network IDS engines put such literals in one multi-pattern automaton, so that a regex only runs on
text that holds one of its literals. We read the pattern's syntax tree (the standard library's
parser understands the subset of `regex` syntax signatures use) and keep, for every sequence, the
requirement whose shortest literal is longest. Alternations need a literal from every branch.
Literals are lower case and never contain whitespace, so that they survive case folding and
whitespace compression; the matcher scans lower-cased text.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Sequence
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as c
    import sre_parse

MIN_LITERAL_LENGTH = 3
"""Shorter literals occur in too much benign text to be worth a prefilter."""

Requirement = frozenset[str]

_FUZZY = re.compile(r"\{\s*(?:\d+\s*<=?\s*)?\d*[edis]\b")
"""A `regex` fuzzy constraint (`{e<=1}`), which the standard parser would read as literal text."""


def fold(text: str) -> str:
    """Case folding for the prefilter, applied alike to literals and to scanned text: casefold() joins
    what (?i) joins (s/ſ, k/K, σ/ς, and is not context-dependent like lower()), and dropping U+0307
    joins i and İ."""
    return text.casefold().replace("\u0307", "")


MAX_GROUPS = 4
"""How many independent requirements a signature keeps (the strongest ones)."""


@functools.lru_cache(maxsize=512)
def parse_pattern(pattern: str) -> tuple[list[tuple[Any, Any]], int] | None:
    """The pattern's syntax tree and global flags, as the standard library's parser reads them;
    None for syntax it does not know (a fuzzy constraint, a nested set, a POSIX class) or reads
    otherwise than `regex` (verbose mode, `_scoped_verbose`). Cached: the prefilter, `boundaries`,
    `branches` and `relaxed` each read the same patterns (callers never change the tree)."""
    if _FUZZY.search(pattern):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "possible nested set": a POSIX class or set operation
            parsed = sre_parse.parse(pattern)
        items = list(parsed.data)
        if parsed.state.flags & c.SRE_FLAG_VERBOSE or _scoped_verbose(items):
            return None
    except (c.error, RecursionError, OverflowError, Warning):
        return None
    return items, parsed.state.flags


def _scoped_verbose(items: list[tuple[Any, Any]]) -> bool:
    """Whether a group turns on verbose mode: `regex` then skips every Unicode space (U+00A0 too) and
    reads `a{1, 3}` as a count, the standard parser skips only ASCII spaces and reads it as text, so
    what the tree says the pattern needs, `regex` may not."""
    return any(
        (op is c.SUBPATTERN and av[1] & c.SRE_FLAG_VERBOSE) or _scoped_verbose(children(op, av)) for op, av in items
    )


def children(op: Any, av: Any) -> list[tuple[Any, Any]]:
    """The items nested in one node of the syntax tree, branches flattened."""
    if op is c.SUBPATTERN:
        return list(av[-1])
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        return list(av[2])
    if op in (c.ASSERT, c.ASSERT_NOT):
        return list(av[1])
    if op is c.ATOMIC_GROUP:
        return list(av)
    if op is c.BRANCH:
        return [item for branch in av[1] for item in branch]
    if op is c.GROUPREF_EXISTS:
        return [*av[1], *(av[2] or [])]
    return []


def _parse(pattern: str) -> list[tuple[Any, Any]] | None:
    parsed = parse_pattern(pattern)
    return None if parsed is None else parsed[0]


def derive_requirements(pattern: str) -> tuple[Requirement, ...] | None:
    r"""Groups of literals such that every text the pattern matches holds, once folded, at least one
    literal of *every* group: the parts of a sequence are all required, so each yields a group
    (an alternation yields one group, the union of its branches' best). Requiring all groups
    filters far better than any single one: `'\s*or\s+1=1` needs a quote *and* `or` *and* `1=1`.

    The strongest `MAX_GROUPS` groups are kept. None when the standard parser does not know the
    syntax; () when the pattern has no literal at all (it then runs on every field it targets).
    """
    items = _parse(pattern)
    if items is None:
        return None
    groups = sorted(set(_sequence(items)[0]), key=_rank, reverse=True)
    return tuple(groups[:MAX_GROUPS])


def derive_literals(pattern: str) -> Requirement | None:
    """The single strongest group, if its shortest literal has MIN_LITERAL_LENGTH characters."""
    groups = derive_requirements(pattern)
    if not groups or min(len(s) for s in groups[0]) < MIN_LITERAL_LENGTH:
        return None
    return groups[0]


def _score(requirement: Requirement) -> tuple[int, int]:
    """Longer shortest literal first, then fewer literals."""
    return (min(len(s) for s in requirement), -len(requirement))


def _rank(requirement: Requirement) -> tuple[int, int, int, tuple[str, ...]]:
    """`_score`, then fewer letters and digits (`:` is rarer than `i`), then the literals
    themselves: the groups kept are the same in every process, whatever the order of a set."""
    alphanumeric = sum(ch.isalnum() for literal in requirement for ch in literal)
    return (*_score(requirement), -alphanumeric, tuple(sorted(requirement)))


def _class_literal(items: list[tuple[Any, Any]]) -> str | None:
    """`[Ss]` (or a one-character class) is a literal once lower-cased."""
    chars = {fold(chr(av)) for op, av in items if op is c.LITERAL}
    if len(chars) == 1 and all(op is c.LITERAL for op, _ in items):
        return chars.pop()
    return None


def _sequence(items: list[tuple[Any, Any]]) -> tuple[list[Requirement], str | None]:
    """(every group the sequence requires, its exact text if it is one fixed string)."""
    groups: list[Requirement] = []
    run: list[str] = []
    exact: list[str] | None = []

    def close_run() -> None:
        if run:
            groups.append(frozenset({"".join(run)}))
            run.clear()

    def add_text(text: str) -> None:
        for ch in text:
            if ch.isspace():
                close_run()
            else:
                run.append(ch)

    for op, av in items:
        if op is c.LITERAL:
            ch = fold(chr(av))
            add_text(ch)
            if exact is not None:
                exact.append(ch)
        elif op in (c.AT, c.ASSERT_NOT):
            continue  # zero width: the characters on either side stay adjacent
        elif op is c.ASSERT:  # a lookahead or lookbehind: what it needs, the text holds too
            close_run()
            exact = None
            groups.extend(_sequence(list(av[1]))[0])
        elif op is c.IN and _class_literal(av) is not None:
            ch = _class_literal(av) or ""
            add_text(ch)
            if exact is not None:
                exact.append(ch)
        elif op in (c.SUBPATTERN, c.ATOMIC_GROUP):
            inner = av[-1] if op is c.SUBPATTERN else av
            inner_groups, inner_exact = _sequence(list(inner))
            if inner_exact is not None:
                add_text(inner_exact)
                if exact is not None:
                    exact.append(inner_exact)
            else:
                close_run()
                exact = None
                groups.extend(inner_groups)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, _high, item = av
            close_run()
            exact = None
            if low >= 1:
                groups.extend(_sequence(list(item))[0])
        elif op is c.BRANCH:
            close_run()
            exact = None
            alternatives = [_best(_sequence(list(branch))[0]) for branch in av[1]]
            if all(alt is not None for alt in alternatives):
                groups.append(frozenset().union(*(alt for alt in alternatives if alt is not None)))
        else:
            close_run()
            exact = None
    close_run()
    return [g for g in groups if g and "" not in g], (None if exact is None else "".join(exact))


def _best(candidates: Sequence[Requirement | None]) -> Requirement | None:
    usable = [r for r in candidates if r]
    return max(usable, key=_score) if usable else None
