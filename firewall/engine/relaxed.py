"""A signature's pattern in RE2 syntax, relaxed so that it matches wherever the pattern matches.

RE2 runs many patterns at once in one automaton pass (`screen`), but knows no lookaround,
back-reference, atomic group or possessive quantifier, and its `\\w`, `\\d` and `\\s` are ASCII.
Each construct is therefore turned into one that accepts at least what the original accepts at
the same place:

- lookarounds and anchors (`^`, `$`, `\\b`, `\\A`...) are dropped: they only refuse matches;
- atomic groups and possessive quantifiers become plain ones, which can only match more;
- a back-reference becomes a copy of its group, case-insensitive and with its negated sets taking
  any character: what the group captured, the group's own pattern accepts, and the reference
  may take it in another case;
- a conditional accepts either branch;
- `.` matches a newline too, and a count above `MAX_COUNT` keeps at most that much of its lower
  bound and none of its upper one;
- `\\w`, `\\d` and `\\s` take every non-ASCII character, and their negations take every character
  outside ASCII's word characters, digits or whitespace (on ASCII both engines agree exactly);
- under `(?i)`, the letters `regex` also folds as Turkish does (`I`/`ı`, `i`/`İ`) are added: in
  every other case the two engines fold alike (`tests/unit/test_relaxed.py` checks each character);
- verbose and ASCII modes are refused (`Unrelaxable`): the standard parser reads verbose patterns
  otherwise than `regex` (`literals.parse_pattern` refuses them), and ASCII mode changes what
  `(?i)` folds.

By induction over the syntax tree, every span the pattern matches in a text, the relaxed pattern
matches too, and in any text that holds that one (texts joined for one pass), since nothing in it
looks beyond its own span. It may match more; the screen only decides which regexes need to run.
"""

from __future__ import annotations

import warnings
from typing import Any

from .literals import children, parse_pattern

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as c

MAX_COUNT = 4
"""Counted repeats up to this many stay counted; larger ones become `*`/`+`. RE2 expands counts,
and refuses a pattern whose nested counts multiply past 1,000."""

MAX_NESTED_COUNT = 64
"""Nested counts stay counted while their product stays within this."""

MAX_COPY_DEPTH = 4
"""Back-references copied within copies: deeper ones (or a group referring to itself) match anything."""

MAX_LENGTH = 50_000
"""Characters a relaxed pattern may have: copies of copies can multiply (a 254-character pattern of
nested back-references came to 60 MB). The longest shipped one has about 6,000."""

_NON_ASCII = r"\x{80}-\x{10ffff}"
_POSITIVE = {
    c.CATEGORY_DIGIT: "0-9" + _NON_ASCII,
    c.CATEGORY_WORD: "0-9A-Za-z_" + _NON_ASCII,
    c.CATEGORY_SPACE: r"\t-\r\x{1c}-\x{20}" + _NON_ASCII,
}
"""Each category and more: its ASCII members exactly, with every non-ASCII character."""
_POSITIVE_WITHIN_LINES = {**_POSITIVE, c.CATEGORY_SPACE: r"\t\x0b-\r\x{1c}-\x{20}" + _NON_ASCII}
_NEWLINE = 10
_NEGATED = {
    c.CATEGORY_NOT_DIGIT: "0-9",
    c.CATEGORY_NOT_WORD: "0-9A-Za-z_",
    c.CATEGORY_NOT_SPACE: r"\t-\r ",
}
"""For `\\D`, `\\W` and `\\S`: ASCII members of the category they negate, all of which it surely
holds. Everything outside those is a superset of the negation."""
_WITHIN_NEGATED = {
    c.CATEGORY_DIGIT: "0-9",
    c.CATEGORY_WORD: "0-9A-Za-z_",
    c.CATEGORY_SPACE: r"\t-\r ",
    c.CATEGORY_NOT_DIGIT: r"\x00-/:-\x7f",
    c.CATEGORY_NOT_WORD: r"\x00-/:-@\[-\^`{-\x7f",
    c.CATEGORY_NOT_SPACE: r"\x00-\x08\x0e-\x1b!-\x7f",
}
"""Inside a negated set, a category must shrink for the set to grow: its ASCII members it surely
holds (`\\x1c`-`\\x1f` count as space for `str.isspace` but not for every engine, so neither side
takes them)."""

_TURKISH_I = frozenset(map(ord, "iIıİ"))
_TURKISH_I_SET = r"iI\x{131}\x{130}"


class Unrelaxable(ValueError):
    """The pattern uses syntax this translation does not know; its regex then always runs."""


def relaxed(pattern: str, within_lines: bool = False) -> str:
    """`pattern` (as `regex` reads it) as an RE2 pattern matching at least wherever it matches.

    `within_lines`: for texts that hold no newline, joined by newlines. Nothing in the relaxed
    pattern then matches a newline, so that no match spans two texts (as a pattern's `[^x]` or
    `\\s` would across the separator); where each text alone holds a match, it still matches."""
    parsed = parse_pattern(pattern)
    if parsed is None:
        raise Unrelaxable("the standard parser does not read this pattern")
    items, flags = parsed
    _refuse_flags(flags)
    try:
        translation = _Translation(_groups(items), within_lines)
        body = translation.sequence(items, bool(flags & c.SRE_FLAG_IGNORECASE), MAX_NESTED_COUNT, 0)
    except RecursionError:
        raise Unrelaxable("groups nested too deeply") from None
    if len(body) > MAX_LENGTH:
        raise Unrelaxable(f"the relaxed pattern would be over {MAX_LENGTH} characters")
    return body if not flags & c.SRE_FLAG_IGNORECASE else "(?i:" + body + ")"


def _refuse_flags(flags: int) -> None:
    """ASCII mode: `regex` then folds only ASCII letters together, and RE2's `(?i)` would take more
    out of a negated set. (Verbose mode the parser already refuses: `literals.parse_pattern`.)"""
    if flags & c.SRE_FLAG_ASCII:
        raise Unrelaxable("ASCII mode")


def _groups(items: list[tuple[Any, Any]], found: dict[int, list[tuple[Any, Any]]] | None = None) -> dict[int, Any]:
    """Every numbered group's items, wherever it lies (a lookbehind's groups are referred to too)."""
    found = {} if found is None else found
    for op, av in items:
        if op is c.SUBPATTERN and av[0] is not None:
            found[av[0]] = list(av[3])
        _groups(children(op, av), found)
    return found


class _Translation:
    def __init__(self, groups: dict[int, list[tuple[Any, Any]]], within_lines: bool) -> None:
        self.groups = groups
        self.within_lines = within_lines
        self.copying: list[int] = []
        """The groups being copied for back-references, innermost last."""
        self.copied = 0
        """Characters of copies made so far."""

    @property
    def anything(self) -> str:
        """One character of any kind (any but a newline, within lines)."""
        return "[^\\n]" if self.within_lines else "(?s:.)"

    def sequence(self, items: list[tuple[Any, Any]], icase: bool, room: int, depth: int) -> str:
        """`items` in RE2 syntax; `room`: how far counts may still multiply; `depth`: copies within."""
        return "".join(self.item(op, av, icase, room, depth) for op, av in items)

    def item(self, op: Any, av: Any, icase: bool, room: int, depth: int) -> str:
        if op is c.LITERAL and ((self.within_lines and av == _NEWLINE) or (icase and av in _TURKISH_I)):
            return _set([(c.LITERAL, av)], icase, self.within_lines)
        if op is c.LITERAL:
            return _literal(av)
        if op is c.ANY or (self.copying and (op is c.NOT_LITERAL or (op is c.IN and _negates(av)))):
            # In a copy, matched in any case, a negated set could refuse a case form of what the
            # group took: it takes any character there.
            return self.anything
        if op is c.NOT_LITERAL:
            return "[^" + _literal(av) + ("\\n]" if self.within_lines else "]")
        if op is c.IN:
            return _set(list(av), icase, self.within_lines)
        if op is c.BRANCH:
            return "(?:" + "|".join(self.sequence(list(b), icase, room, depth) for b in av[1]) + ")"
        if op is c.SUBPATTERN:
            _group, add, remove, sub = av
            _refuse_flags(add | remove)
            inner = bool(add & c.SRE_FLAG_IGNORECASE) or (icase and not remove & c.SRE_FLAG_IGNORECASE)
            inner = inner or bool(self.copying)  # a copy is matched in any case, `(?-i:...)` within it too
            body = self.sequence(list(sub), inner, room, depth)
            return "(?:" + body + ")" if inner == icase else ("(?i:" if inner else "(?-i:") + body + ")"
        if op is c.ATOMIC_GROUP:
            return "(?:" + self.sequence(list(av), icase, room, depth) + ")"
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            return self.repeat(av, icase, room, depth)
        if op in (c.ASSERT, c.ASSERT_NOT, c.AT):
            return ""
        if op is c.GROUPREF:
            return self.copy(av, room, depth)
        if op is c.GROUPREF_EXISTS:
            _group, yes, no = av
            no_text = "" if no is None else self.sequence(list(no), icase, room, depth)
            return "(?:" + self.sequence(list(yes), icase, room, depth) + "|" + no_text + ")"
        raise Unrelaxable(f"unknown syntax {op}")

    def repeat(self, av: Any, icase: bool, room: int, depth: int) -> str:
        """A counted repeat as it is while small; a larger one keeps as much of its lower bound as
        counts allow and loses its upper bound (`(?:\\./){6}` becomes `(?:\\./){4,}`)."""
        low, high, sub = av
        if high is not c.MAXREPEAT and high <= MAX_COUNT and high <= room:
            body = self.sequence(list(sub), icase, room // max(high, 1), depth)
            return "" if high == 0 else "(?:" + body + "){" + str(low) + "," + str(high) + "}"
        kept = min(low, MAX_COUNT, room)
        body = self.sequence(list(sub), icase, room // max(kept, 1), depth)
        return "(?:" + body + (")*" if kept == 0 else ")+" if kept == 1 else "){" + str(kept) + ",}")

    def copy(self, group: int, room: int, depth: int) -> str:
        """A back-reference: its group's pattern, in any case (it matched the captured text, and a
        reference under `(?i)` takes it in any case), with negated sets taking anything."""
        items = self.groups.get(group)
        if items is None or group in self.copying or depth >= MAX_COPY_DEPTH:
            return self.anything + "*"
        self.copying.append(group)
        try:
            text = "(?i:" + self.sequence(items, True, room, depth + 1) + ")"
        finally:
            self.copying.pop()
        self.copied += len(text)
        if self.copied > MAX_LENGTH:
            raise Unrelaxable(f"the relaxed pattern would be over {MAX_LENGTH} characters")
        return text


def _negates(items: list[tuple[Any, Any]]) -> bool:
    """Whether a set is negated or holds a negated category (`\\W`, `\\D`, `\\S`)."""
    return any(op is c.NEGATE or (op is c.CATEGORY and av in _NEGATED) for op, av in items)


def _literal(code: int) -> str:
    if 0xD800 <= code <= 0xDFFF:
        raise Unrelaxable("a surrogate code point")  # no UTF-8 text holds one: such texts are not screened
    character = chr(code)
    return character if character.isascii() and character.isalnum() else f"\\x{{{code:x}}}"


def _set(items: list[tuple[Any, Any]], icase: bool, within_lines: bool) -> str:
    """A character set: members as they are, categories widened (or, negated, narrowed); without
    the newline when `within_lines`."""
    negated = bool(items) and items[0][0] is c.NEGATE
    members = items[1:] if negated else items
    parts: list[str] = []
    alternatives: list[str] = []
    turkish = False
    no_newline = within_lines and not negated
    for op, av in members:
        if op is c.LITERAL:
            if not (no_newline and av == _NEWLINE):
                parts.append(_literal(av))
            turkish |= av in _TURKISH_I
        elif op is c.RANGE:
            low, high = av
            ranges = [(low, min(high, _NEWLINE - 1)), (max(low, _NEWLINE + 1), high)] if no_newline else [av]
            parts += (_literal(a) + "-" + _literal(b) for a, b in ranges if a <= b)
            turkish |= any(low <= code <= high for code in _TURKISH_I)
        elif op is c.CATEGORY and negated and av in _WITHIN_NEGATED:
            parts.append(_WITHIN_NEGATED[av])
        elif op is c.CATEGORY and av in _POSITIVE:
            parts.append(_POSITIVE_WITHIN_LINES[av] if no_newline else _POSITIVE[av])
        elif op is c.CATEGORY and av in _NEGATED:
            alternatives.append("[^" + _NEGATED[av] + ("\\n]" if within_lines else "]"))
        else:
            raise Unrelaxable(f"unknown set member {op} {av}")
    if negated:
        parts += ["\\n"] if within_lines else []
        return "[^" + "".join(parts) + "]" if parts else "(?s:.)"
    if icase and turkish:
        parts.append(_TURKISH_I_SET)
    if parts:
        alternatives.append("[" + "".join(parts) + "]")
    if not alternatives:
        return "[^\\x00-\\x{10ffff}]"
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
