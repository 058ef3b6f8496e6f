"""Search a pattern's top-level alternatives one by one, for long texts.

`regex` finds a literal-led pattern fast, skipping ahead to where its first literal occurs. An
alternation of differently led branches (`alert\\(|\\.\\s*call\\(|=\\s*eval`) loses that: every
position of the text is tried against every branch, tens of milliseconds on 256 KB. Each branch
searched alone keeps its fast path, and the leftmost match of the branches, the first branch
winning a tie, is exactly the match the whole pattern finds. On short texts one call is cheaper
than several, so the split serves long texts only.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import regex

from .literals import children, parse_pattern

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as c

LONG_TEXT = 4096
"""From this many characters, a split pattern searches its branches one by one."""


def top_level_branches(pattern: str) -> list[str] | None:
    """The pattern's top-level alternatives as texts, or None when it has only one or cannot be
    split safely: a back-reference whose group would be numbered differently once alone, or text
    the scanner and the parser read differently."""
    parsed = parse_pattern(pattern)
    if parsed is None:
        return None
    items, _flags = parsed
    if len(items) != 1 or items[0][0] is not c.BRANCH:
        return None
    alternatives = list(items[0][1][1])
    pieces = _split(pattern)
    if pieces is None or len(pieces) != len(alternatives):
        return None
    groups_before = 0
    for alternative in alternatives:
        if groups_before and has_backreference(list(alternative)):
            return None
        groups_before += _count_groups(list(alternative))
    return pieces


class Branches:
    """Searches that give the whole pattern's match, branch by branch."""

    def __init__(self, whole: regex.Pattern[str], pieces: list[str]) -> None:
        self.whole = whole
        self.pieces = pieces
        self._parts: tuple[regex.Pattern[str], ...] | None = None

    @property
    def parts(self) -> tuple[regex.Pattern[str], ...]:
        """The branches, compiled on the first long text (most processes never see one)."""
        if self._parts is None:
            self._parts = tuple(regex.compile(piece, self.whole.flags) for piece in self.pieces)
        return self._parts

    def search(self, text: str, pos: int = 0, *, timeout: float | None = None) -> regex.Match[str] | None:
        if len(text) - pos < LONG_TEXT:
            return self.whole.search(text, pos, timeout=timeout)
        best: regex.Match[str] | None = None
        started = time.perf_counter()
        for part in self.parts:
            left = None if timeout is None else timeout - (time.perf_counter() - started)
            if left is not None and left <= 0:
                raise TimeoutError("regex timed out")  # the branches share the one search's timeout
            found = part.search(text, pos, timeout=left)
            if found is not None and (best is None or found.start() < best.start()):
                best = found
        return best


def _split(pattern: str) -> list[str] | None:
    """The pattern cut at each `|` outside groups and character sets."""
    pieces: list[str] = []
    depth = 0
    start = 0
    index = 0
    in_set = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_set:
            if char == "]":
                in_set = False
        elif char == "[":
            in_set = True
            if pattern[index + 1 : index + 2] == "^":
                index += 1
            if pattern[index + 1 : index + 2] == "]":
                index += 1  # a leading `]` is a member, not the end
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return None
        elif char == "|" and depth == 0:
            pieces.append(pattern[start:index])
            start = index + 1
        index += 1
    if depth != 0 or in_set:
        return None
    pieces.append(pattern[start:])
    return pieces


def has_backreference(items: list[tuple[Any, Any]]) -> bool:
    """Whether a syntax tree holds a back-reference (`\\1`, `(?P=name)`, `(?(1)...)`)."""
    return any(op in (c.GROUPREF, c.GROUPREF_EXISTS) or has_backreference(list(children(op, av))) for op, av in items)


def _count_groups(items: list[tuple[Any, Any]]) -> int:
    total = 0
    for op, av in items:
        if op is c.SUBPATTERN and av[0] is not None:
            total += 1
        total += _count_groups(list(children(op, av)))
    return total
