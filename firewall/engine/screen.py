"""Which signatures could match a text at all, for many signatures per automaton pass.

The literal prefilter admits a signature wherever its literals occur, and benign text is full of
them (`or`, `select`, `=`): each such field then costs Python work and a regex search. RE2 runs
the signatures' relaxed patterns (`relaxed`) together, in C, in time linear in the text, and names
those that match somewhere. A signature it does not name cannot match any text it was given, so
its regex need not run there; one it names still goes through the prefilter and its regex.

Three limits bound what the screen costs where it does not pay (text that keeps RE2 building states):

- the patterns are split into sets of `SET_SIZE`: RE2 builds its automaton's states as the text
  asks for them, and one set of every signature lets random punctuation ask for a new state at
  almost every character (1.6 s on 256 KB even once warm; four sets: 0.6 s cold, 20 ms warm);
- a joined text is given to RE2 in pieces of at most `PIECE` characters, cut at separators so
  that every text lies whole in one piece; a longer text is not screened;
- a batch's screening stops after `ALLOWANCE` CPU seconds (checked between pieces), and what is
  left is not screened.

Where the screen cannot tell, it says None and every signature stays in play: when RE2 gives up on
a text (its automaton outgrew its memory: it then names nothing, so each set holds a pattern that
matches at the end of every text, `\\z`, whose absence gives that away), when the allowance is
spent, and for text that is not valid Unicode (a lone surrogate, from a decoded `\\ud800`), which
RE2 cannot take.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import re2

from .relaxed import Unrelaxable, relaxed

SET_SIZE = 80
"""Patterns per RE2 set. Each set scans every byte it is given, so fewer sets scan benign text
faster (1 KB records: 157-172 us with sets of 80, 176-191 us with sets of 50, in alternate runs),
and larger ones build more states on text that keeps asking for new ones (sets of 100 spent a
`..\\N` flood's whole allowance)."""

MAX_MEMORY = 8 << 20
"""Bytes each RE2 set may use for its program and its automaton's cache of states (RE2's default)."""

PIECE = 4096
"""Characters given to RE2 at once. A fresh piece of random punctuation costs about 20 ms while the
sets build the states it asks for, 0.1 ms once they have, whether of 2,048 or 4,096 characters; a
piece costs a call per set and a Python step, so the 4 KB group of a batch of 1 KB records takes
half as many as with pieces of 2,048 (the 256 KB catalog body: 26.6 -> 23.5 ms)."""

ALLOWANCE = 0.03
"""CPU seconds of screening per batch of records (or per record inspected alone)."""


class Allowance:
    """What a batch's screening may still do: the time it has left (only time spent screening
    counts), and the signatures it need not look for."""

    def __init__(self, seconds: float | None = None, leave_out: frozenset[int] = frozenset()) -> None:
        self.left = ALLOWANCE if seconds is None else seconds
        self.leave_out = leave_out
        """Signatures no field of the batch is a target of (`RuleSet.untargeted`): the screen rules
        them out everywhere. A flood of `..\\\\N` decodes to `../N` 19,000 times, which FW-LFI-009
        matches, but it looks at S3 keys only."""


@dataclass(frozen=True)
class Bound:
    """What the screen leaves in play: signatures, and where texts were joined, which of them the
    signatures may match in (`live[number]` set: the texts of the pieces some signature matched in).
    A flood's texts are mostly alike, but where only some decode into what a signature needs
    (`$IFS%231` gives `#`), the others need no look at all."""

    signatures: set[int]
    live: bytearray | None
    """None: any text."""

    def holds(self, number: int) -> bool:
        return self.live is None or (number < len(self.live) and self.live[number] == 1)


class _Set:
    """One compiled RE2 set and the signatures of its patterns."""

    def __init__(self, matcher: re2.Set, indices: tuple[int, ...]) -> None:
        self.matcher = matcher
        self.numbers = (-1, *indices)
        """Per pattern number, its signature's index (0 is the end-of-text pattern)."""
        self.indices = frozenset(indices)


class Screen:
    """The relaxed patterns of some signatures (by index), compiled into RE2 sets."""

    def __init__(
        self, patterns: Iterable[tuple[int, str, Hashable]], known: Mapping[str, Forms | None] | None = None
    ) -> None:
        """`patterns`: (signature index, pattern, kind); patterns of one kind share sets, in the
        order given. Signatures that run on the same texts (the same chain, or at least both lower
        case or neither) are best of one kind, so that a text needs few sets. `known`: relaxed forms
        an earlier load worked out (None: not relaxable), by pattern."""
        translated: dict[Hashable, list[tuple[int, Forms]]] = {}
        unscreened: set[int] = set()
        self.translations: dict[str, Forms | None] = {}
        """Each pattern's relaxed forms (None: not relaxable), for the pattern cache."""
        for index, pattern, kind in patterns:
            forms = known[pattern] if known is not None and pattern in known else _relaxed_forms(pattern)
            self.translations[pattern] = forms
            if forms is None:
                unscreened.add(index)
            else:
                translated.setdefault(kind, []).append((index, forms))
        self._sets: list[_Set] = []
        """For any text."""
        self._line_sets: list[_Set] = []
        """For texts joined by newlines, which hold none themselves (`relaxed`'s `within_lines`)."""
        for entries in translated.values():
            for start in range(0, len(entries), SET_SIZE):
                chunk = entries[start : start + SET_SIZE]
                for sets, which in ((self._sets, 0), (self._line_sets, 1)):
                    compiled, refused = _compile([(index, forms[which]) for index, forms in chunk])
                    unscreened |= refused
                    if compiled is not None:
                        sets.append(compiled)
        self.unscreened = frozenset(unscreened)
        """Signatures whose pattern could not be relaxed or compiled: always left in play."""
        self.screened = frozenset(i for one in self._sets for i in one.indices) - self.unscreened
        """The signatures the screen can rule out."""

    def bound(
        self, outputs: Iterable[tuple[str, AbstractSet[int]]], separator: str | None, allowance: Allowance
    ) -> Bound | None:
        """The signatures that may match some text of `outputs` (each a text, or texts joined by
        `separator`, and the signatures that run on it), the unscreened ones among them included,
        and which of the joined texts they may match in; None when some text cannot be screened.
        Those `allowance` leaves out are not looked for."""
        started = time.process_time()
        try:
            return self._bound(outputs, separator, allowance, started)
        finally:
            allowance.left -= time.process_time() - started

    def _bound(
        self,
        outputs: Iterable[tuple[str, AbstractSet[int]]],
        separator: str | None,
        allowance: Allowance,
        started: float,
    ) -> Bound | None:
        signatures: set[int] = set()
        live: bytearray | None = None if separator is None else bytearray()
        leave_out, within_lines = allowance.leave_out, separator == "\n"
        for text, wanted in outputs:
            if self.unscreened and not self.unscreened.isdisjoint(wanted):
                signatures |= self.unscreened.intersection(wanted)
                live = None  # those may match in any text
            whole = len(text) <= PIECE
            first = 0  # the number of the piece's first text
            for piece in (text,) if whole else _pieces(text, separator):
                if piece is None or time.process_time() - started > allowance.left:
                    return None
                found = self._matching(piece, wanted, within_lines)
                if found is None:
                    return None
                if found:
                    if leave_out:
                        found -= leave_out
                    signatures |= found
                if separator is None or (whole and not found):
                    continue
                count = piece.count(separator) + 1
                if found and live is not None:
                    if len(live) < first + count:
                        live.extend(bytes(first + count - len(live)))
                    live[first : first + count] = b"\x01" * count
                first += count
        if signatures and leave_out:  # unscreened ones
            signatures -= leave_out
        return Bound(signatures, live)

    def _matching(self, text: str, wanted: AbstractSet[int], within_lines: bool) -> set[int] | None:
        """Among `wanted`, the screened signatures whose relaxed pattern matches in `text` (joined by
        newlines, with sets for that, when `within_lines`)."""
        try:
            encoded = text.encode()
        except UnicodeEncodeError:
            return None
        found: set[int] = set()
        for one in self._line_sets if within_lines else self._sets:
            if one.indices.isdisjoint(wanted):
                continue
            numbers = one.matcher.Match(encoded)
            if not numbers or 0 not in numbers:  # RE2 gave up
                return None
            found.update(map(one.numbers.__getitem__, numbers))
        found &= wanted  # and without -1, number 0's
        return found


Forms = tuple[str, str]
"""A pattern's relaxed forms: for any text, and for texts joined by newlines (`within_lines`)."""


def _relaxed_forms(pattern: str) -> Forms | None:
    try:
        return relaxed(pattern), relaxed(pattern, within_lines=True)
    except Unrelaxable:
        return None


def _compile(patterns: list[tuple[int, str]]) -> tuple[_Set | None, set[int]]:
    """One RE2 set of `patterns`, and the signatures RE2 refused (all of them if it refuses the set)."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_MEMORY
    matcher = re2.Set.SearchSet(options)
    # Number 0 matches every text, unless RE2 gives up. At the end only: an empty pattern, which
    # matches at every position, made the sets scan benign text a third slower (33 against 26 us
    # per 1 KB record).
    matcher.Add(r"\z")
    indices: list[int] = []
    refused: set[int] = set()
    for index, pattern in patterns:
        try:
            matcher.Add(pattern)
        except re2.error:
            refused.add(index)
        else:
            indices.append(index)
    if not indices:
        return None, refused
    try:
        matcher.Compile()
    except re2.error:
        return None, refused | set(indices)
    return _Set(matcher, tuple(indices)), refused


def _pieces(text: str, separator: str | None) -> Iterator[str | None]:
    """`text` in pieces of at most `PIECE` characters, each ending at a separator (or the end), so
    that every text joined in it lies whole in one piece; None for a text longer than a piece,
    which is not screened (one call on it could cost a long time)."""
    if len(text) <= PIECE:
        yield text
        return
    if separator is None:
        yield None
        return
    start = 0
    while len(text) - start > PIECE:
        cut = text.rfind(separator, start, start + PIECE + 1)
        if cut < 0:
            yield None
            return
        yield text[start:cut]
        start = cut + len(separator)
    yield text[start:]
