"""Whether a regex finds, in texts joined by newlines, every match it finds in each text alone.

One search over a signature's candidate fields joined by newlines costs one call instead of one
per field. A match inside one text is still there in the joined text, as long as the pattern never
needs to find *nothing* past the text's edge, where the joined text has a newline:

- `\\A` and `\\Z` (the joined pattern is compiled MULTILINE, so `^` and `$` hold at each newline);
- a negative lookaround, a possessive quantifier or an atomic group that could take in a newline
  (or holds `^`/`$`): each can fail on the newline where it succeeded at the end of the text. One
  exception: a possessive run of single characters (`[^}]{0,200}+`) followed by what needs at least
  one more character. Where the run stops inside the text, it stops there joined too; where it
  reaches the text's end, alone nothing is left for what follows, so alone it matches nothing
  the joined text could miss;
- a back-reference: a group captured once for good (inside a lookaround) may take in the newline
  and the next text, and the reference then asks for that.

Patterns with none of those are "joinable". What the joined search finds is then only a hint,
confirmed by the pattern on the field it starts in (a match may also span two texts).
"""

from __future__ import annotations

import warnings
from typing import Any

import regex

from .branches import has_backreference
from .literals import children, parse_pattern

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as c

_NEWLINE = 10

_CATEGORY_HAS_NEWLINE = {
    c.CATEGORY_SPACE: True,
    c.CATEGORY_NOT_SPACE: False,
    c.CATEGORY_WORD: False,
    c.CATEGORY_NOT_WORD: True,
    c.CATEGORY_DIGIT: False,
    c.CATEGORY_NOT_DIGIT: True,
    c.CATEGORY_LINEBREAK: True,
    c.CATEGORY_NOT_LINEBREAK: False,
}


def joinable(pattern: str) -> bool:
    """True when searching `pattern` (MULTILINE) over texts joined by newlines finds a match
    wherever it finds one in a text alone. False when unsure (syntax the parser does not know)."""
    parsed = parse_pattern(pattern)
    if parsed is None:
        return False
    items, flags = parsed
    return not has_backreference(items) and _safe(items, bool(flags & c.SRE_FLAG_DOTALL), guarded=False)


def _safe(items: list[tuple[Any, Any]], dotall: bool, guarded: bool, tail: int | None = 0) -> bool:
    """No string anchor; inside a negative lookaround, possessive or atomic part (`guarded`), nothing
    that could match a newline and no line anchor. `tail`: characters the pattern needs at least
    after `items`; None inside a lookbehind, which matches backwards."""
    for number, (op, av) in enumerate(items):
        after = None if tail is None else _min_width(items[number + 1 :]) + tail
        if op is c.AT:
            if av in (c.AT_BEGINNING_STRING, c.AT_END_STRING):
                return False
            if guarded and av in (c.AT_BEGINNING, c.AT_END, c.AT_BEGINNING_LINE, c.AT_END_LINE):
                return False
        elif op is c.ASSERT_NOT or op is c.ATOMIC_GROUP:
            inner = list(av[1] if op is c.ASSERT_NOT else av)
            if _matches_newline(inner, dotall) or not _safe(inner, dotall, guarded=True):
                return False
        elif op is c.POSSESSIVE_REPEAT:
            inner = list(av[2])
            run_then_more = not guarded and after is not None and after > 0 and _one_character(inner)
            if (_matches_newline(inner, dotall) and not run_then_more) or not _safe(inner, dotall, guarded=True):
                return False
        elif op is c.ASSERT:
            direction, inner = av
            if not _safe(list(inner), dotall, guarded, None if direction < 0 else 0):
                return False
        elif op is c.SUBPATTERN:
            _group, add_flags, del_flags, inner = av
            inner_dotall = (dotall or bool(add_flags & c.SRE_FLAG_DOTALL)) and not del_flags & c.SRE_FLAG_DOTALL
            if not _safe(list(inner), inner_dotall, guarded, after):
                return False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
            body = list(av[2])
            again = None if after is None else min(after, _min_width(body))  # another round, or what follows
            if not _safe(body, dotall, guarded, again):
                return False
        elif op is c.BRANCH:
            if not all(_safe(list(branch), dotall, guarded, after) for branch in av[1]):
                return False
        elif op is c.GROUPREF_EXISTS:
            _group, yes, no = av
            if not _safe(list(yes), dotall, guarded, after) or (
                no is not None and not _safe(list(no), dotall, guarded, after)
            ):
                return False
    return True


_ONE_CHARACTER = (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN)


def _one_character(items: list[tuple[Any, Any]]) -> bool:
    """Whether `items` is one character (a literal, a set, `.`): repeated possessively, it takes
    every character it can, one by one, and gives none back."""
    return len(items) == 1 and items[0][0] in _ONE_CHARACTER


def _min_width(items: list[tuple[Any, Any]]) -> int:
    """The fewest characters `items` can match (0 for what this does not know)."""
    total = 0
    for op, av in items:
        if op in _ONE_CHARACTER:
            total += 1
        elif op is c.SUBPATTERN:
            total += _min_width(list(av[3]))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            total += av[0] * _min_width(list(av[2]))
        elif op is c.BRANCH:
            total += min(_min_width(list(branch)) for branch in av[1])
        elif op is c.ATOMIC_GROUP:
            total += _min_width(list(av))
        elif op is c.GROUPREF_EXISTS:
            _group, yes, no = av
            total += min(_min_width(list(yes)), 0 if no is None else _min_width(list(no)))
    return total


def _matches_newline(items: list[tuple[Any, Any]], dotall: bool) -> bool:
    """Whether any part of `items` (lookarounds included) could match a newline; True when unsure."""
    for op, av in items:
        if op is c.LITERAL:
            if av == _NEWLINE:
                return True
        elif op is c.NOT_LITERAL:
            if av != _NEWLINE:
                return True
        elif op is c.ANY:
            if dotall:
                return True
        elif op is c.IN:
            if _set_has_newline(av):
                return True
        elif op in (c.AT, c.CATEGORY):
            continue
        elif op in (c.ASSERT, c.ASSERT_NOT):
            if _matches_newline(list(av[1]), dotall):
                return True
        elif op is c.ATOMIC_GROUP:
            if _matches_newline(list(av), dotall):
                return True
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            if _matches_newline(list(av[2]), dotall):
                return True
        elif op is c.SUBPATTERN:
            _group, add_flags, del_flags, inner = av
            inner_dotall = (dotall or bool(add_flags & c.SRE_FLAG_DOTALL)) and not del_flags & c.SRE_FLAG_DOTALL
            if _matches_newline(list(inner), inner_dotall):
                return True
        elif op is c.BRANCH:
            if any(_matches_newline(list(branch), dotall) for branch in av[1]):
                return True
        else:
            return True  # back-references and anything else: assume it could
    return False


def _set_has_newline(members: list[tuple[Any, Any]]) -> bool:
    """Whether a character set (`[...]`, `\\s`, `\\W`...) holds the newline."""
    negated = False
    held = False
    for op, av in members:
        if op is c.NEGATE:
            negated = True
        elif op is c.LITERAL:
            held = held or av == _NEWLINE
        elif op is c.RANGE:
            held = held or av[0] <= _NEWLINE <= av[1]
        elif op is c.CATEGORY:
            held = held or _CATEGORY_HAS_NEWLINE.get(av, True)
        else:
            held = True  # unknown member: assume it could
    return held != negated


def joined_form(pattern: str) -> str | None:
    """The pattern to search joined fields with: itself when `joinable`; else, when that makes it
    joinable, the pattern without its negative lookarounds (`(?!...)`, `(?<!...)`); else None.

    Dropping a negative lookaround outside atomic groups and possessive repeats only lets the
    pattern match more, so the joined search still finds every field the pattern matches alone;
    each hit is confirmed by the whole pattern on its field (`search`). Lookarounds in those parts
    are read on the parse tree (`_guarded_lookaround`); the text cut refuses what would glue its
    neighbours into other syntax. `require(\\n'../../..` keeps its exception across the line
    break, which a joined search could borrow from the field before, and a flood of
    traversal-shaped fields is still searched joined."""
    if joinable(pattern):
        return pattern
    original = parse_pattern(pattern)
    if original is None or _guarded_lookaround(original[0]):
        return None
    relaxed = without_negative_lookarounds(pattern)
    if relaxed is None or relaxed == pattern or not joinable(relaxed):
        return None
    try:
        regex.compile(relaxed, regex.MULTILINE)  # as the joined search compiles it: `regex` caches it
    except regex.error:
        return None
    return relaxed


def _guarded_lookaround(items: list[tuple[Any, Any]], guarded: bool = False) -> bool:
    """Whether a negative lookaround sits inside an atomic group or a possessive repeat, where it
    may have turned the engine to another branch for good: cut, the pattern could match less."""
    for op, av in items:
        if op is c.ASSERT_NOT and guarded:
            return True
        inside = guarded or op is c.ATOMIC_GROUP or op is c.POSSESSIVE_REPEAT
        if _guarded_lookaround(children(op, av), inside):
            return True
    return False


_UNREAD_SYNTAX = regex.compile(r"\(\?[a-zA-Z-]*[xV]|\(\?#")
"""Verbose mode (its comments may hold parentheses), version flags and comments: the text cut does
not read them."""


def without_negative_lookarounds(pattern: str) -> str | None:
    """`pattern` with every `(?!...)` and `(?<!...)` cut out of its text; None where it cannot tell
    (an unbalanced group or set). Escapes and character sets are taken whole, so a `(` in `[(]` or
    `\\(` opens nothing."""
    if _UNREAD_SYNTAX.search(pattern):
        return None
    kept: list[str] = []
    cut_at: int | None = None  # the depth of the lookaround being cut, while inside one
    depth = 0
    position = 0
    while position < len(pattern):
        character = pattern[position]
        end = position + 1
        if character == "\\":
            end = position + 2
        elif character == "[":
            set_end = _set_end(pattern, position)
            if set_end is None:
                return None
            end = set_end
        elif character == "(":
            depth += 1
            if cut_at is None and pattern.startswith(("(?!", "(?<!"), position):
                if "".join(kept).endswith("{"):
                    return None  # `a{(?!x)2}` would become the quantifier `a{2}`
                cut_at = depth
        elif character == ")":
            if depth == 0:
                return None
            depth -= 1
            if cut_at == depth + 1:
                if pattern[end : end + 1] in ("*", "+", "?", "{"):
                    return None  # a repeated lookaround: cut, its quantifier would take the atom before
                cut_at = None
                position = end
                continue
        if cut_at is None:
            kept.append(pattern[position:end])
        position = end
    return None if depth else "".join(kept)


def _set_end(pattern: str, start: int) -> int | None:
    """Where the character set opening at `start` ends (past its `]`); a `]` right after `[` or
    `[^` is a member."""
    position = start + 1
    if pattern.startswith("^", position):
        position += 1
    if pattern.startswith("]", position):
        position += 1
    while position < len(pattern):
        if pattern[position] == "\\":
            position += 2
        elif pattern.startswith(("[:", "[=", "[."), position):
            return None  # a POSIX class: `regex` reads a set this does not
        elif pattern[position] == "]":
            return position + 1
        else:
            position += 1
    return None
