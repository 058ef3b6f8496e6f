"""Prefilter candidates of many decoded texts at once, when their decoders act on each text alone.

A record can carry thousands of fields that some decoder changes: prose with apostrophes, names
with accents, or an attacker's 20,000 copies of `it's 00042`. Decoding them one by one costs several
Python calls per text and chain. Some decoders never act across a separator (a `Joining`), so on
texts joined by it they give exactly the join of what they give on each text: a group of texts
with the same acting decoders is decoded, folded and scanned once per chain, and the hits are
mapped back to their text. When that cannot be shown for a group (a decoding produced a separator,
or woke a decoder that acts across it), the caller examines its texts one by one instead.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from .compiler import RuleSet
from .decoded import DecodedTexts, found_in
from .transforms import MAX_ROUNDS, css_decode, js_decode_once


@dataclass(frozen=True)
class Joining:
    """A separator for joined texts, and the decoders that never act across it."""

    separator: str
    local: frozenset[str]


_ACROSS_NOTHING = frozenset(
    {"url_decode", "html_entity_decode", "cmdline_normalize", "remove_nulls", "unicode_nfkc", "path_normalize"}
)
_ESCAPES = frozenset({"js_decode", "css_decode"})
"""A final backslash takes the next character, a separator included: `_Joined` refuses a separator
after a backslash before every round of these."""

BY_NEWLINE = Joining("\n", _ACROSS_NOTHING | _ESCAPES)
"""None of these decoders acts across a newline, and texts that wake none of the others hold no
newline (it would wake `compress_whitespace`). Excluded: SQL comments (they run to the end of the
text), whitespace compression (a newline is whitespace) and base64 (it appends to the end of the
text)."""

BY_CONTROL = Joining("\x01", _ACROSS_NOTHING | _ESCAPES | {"compress_whitespace"})
"""For texts that decode to newlines (`%0a`, a `\\t` escape next to one): a control character is
not whitespace, so whitespace compression stays within a text."""

LOCAL_DECODERS = BY_NEWLINE.local | BY_CONTROL.local
"""Decoders some joining can decode joined."""

MIN_GROUP = 2
"""Smaller groups are examined text by text: joining gains nothing for one text."""

_EXPANSION = re.compile(r"\$(?:\{|IFS[%#])")
"""Shell expansions whose normalisation can run past the end of a text."""
_CSS_HEX_BEFORE_NEWLINE = re.compile(r"\\[0-9A-Fa-f]{1,6}\n")
"""A CSS hexadecimal escape takes one following whitespace character: a newline separator too."""
_SPACING = re.compile(r"[^\S \n]|  ")
"""`compress_whitespace`'s trigger within one text of a newline-joined group."""


def joinable_acting(acting: frozenset[str]) -> bool:
    """Whether texts with these acting decoders can be decoded joined at all."""
    return acting <= BY_NEWLINE.local or acting <= BY_CONTROL.local


class JoinedGroup:
    """A group of texts decoded joined: each text's candidates, the decoders their chains reduce to
    (`acting`, widened by any a decoding woke), and what each reduced chain made of each text, so
    that the regex stage need not decode the texts again one by one."""

    def __init__(self, decoded: _Joined, candidates: list[set[int]], reduced_to: frozenset[str]) -> None:
        self.decoded = decoded
        self.candidates = candidates
        self.reduced_to = reduced_to
        self._bounds: dict[int, list[int]] = {}

    def subject(self, number: int, chain: tuple[str, ...]) -> str | None:
        """Text `number` as `chain` (already reduced) leaves it; None if that chain was not computed
        with the group (it always is: the reduced chains are the ones decoded)."""
        try:
            output = self.decoded.get(chain)
        except _Split:
            return None
        starts = self._bounds.get(id(output))
        if starts is None:
            separator = re.escape(self.decoded.joining.separator)
            starts = self._bounds[id(output)] = [
                0, *(m.end() for m in re.finditer(separator, output)), len(output) + 1
            ]
        return output[starts[number] : starts[number + 1] - 1]


def group_candidates(rules: RuleSet, texts: list[str], acting: frozenset[str]) -> JoinedGroup | None:
    """The group decoded joined (its texts all have `acting` as acting decoders); None when it must
    be examined text by text."""
    if len(texts) < MIN_GROUP:
        return None
    for joining in (BY_NEWLINE, BY_CONTROL):
        if acting <= joining.local:
            found = _joined_candidates(rules, texts, acting, joining)
            if found is not None:
                return found
    return None


def _joined_candidates(
    rules: RuleSet, texts: list[str], acting: frozenset[str], joining: Joining
) -> JoinedGroup | None:
    joined = joining.separator.join(texts)
    if joined.count(joining.separator) != len(texts) - 1:
        return None  # a text holds the separator
    decoded = _Joined(joined, len(texts) - 1, joining)
    try:
        settled = settle(rules, decoded, acting)
    except _Split:
        return None
    if settled is None:
        return None
    forms, reduced_to = settled
    return JoinedGroup(decoded, candidates_of_forms(rules, forms, len(texts), joining.separator), reduced_to)


MAX_WIDENINGS = 3
"""How often a set of acting decoders is widened by the decoders its decodings wake."""


def settle(
    rules: RuleSet, decoded: DecodedTexts, acting: frozenset[str]
) -> tuple[list[Form], frozenset[str]] | None:
    """The forms of the chains reduced to `acting`, widened until no computed text wakes a decoder
    outside it (`%26lt%3B` decodes into an HTML entity: the HTML decoder joins). Then the reduced
    chains give what the full ones give: a decoder none of their texts wakes changes nothing. None
    when that does not settle in a few rounds, or the widened set cannot be decoded joined."""
    for _ in range(MAX_WIDENINGS + 1):
        if isinstance(decoded, _Joined) and not acting <= decoded.joining.local:
            return None
        forms = forms_of(decoded, rules.projections(acting))
        woken = decoded.woken(acting)
        if not woken:
            return forms, acting
        acting = acting | woken
    return None


def forms_of(decoded: DecodedTexts, chains: Iterable[tuple[tuple[str, ...], frozenset[int]]]) -> list[Form]:
    """The distinct folded outputs of `chains`, each with the signatures of the chains giving it."""
    members: dict[int, tuple[str, set[int]]] = {}
    for chain, signatures in chains:
        low = decoded.folded(chain)
        entry = members.get(id(low))
        if entry is None:
            members[id(low)] = (low, set(signatures))
        else:
            entry[1].update(signatures)
    return [(low, frozenset(signatures)) for low, signatures in members.values()]


class _Split(Exception):
    """A decoder added or removed a separator: the joined text no longer splits into its texts."""


class _Joined(DecodedTexts):
    """The chains' outputs on texts joined by a separator."""

    SCAN_WHOLE = False

    def __init__(self, joined: str, separators: int, joining: Joining) -> None:
        super().__init__(joined)
        self.joining = joining
        self._separators = separators

    def step(self, name: str, text: str) -> str:
        """One decoder on the joined text. Where it could take in a separator, it is refused (the
        group goes back to one text at a time); then no separator can vanish, and a decoding that
        yields one (`%0a`) shows as a higher count. A check of the count alone would miss one
        separator taken in while another is made (`\\41` + newline, then `\\a `)."""
        if name == "cmdline_normalize" and _EXPANSION.search(text):
            raise _Split(name)  # `${...:-}` and `$IFS%...` may span texts
        output = self._escapes(name, text) if name in _ESCAPES else super().step(name, text)
        if output is not text and output.count(self.joining.separator) != self._separators:
            raise _Split(name)
        return output

    def _escapes(self, name: str, text: str) -> str:
        """An escape decoder round by round, refusing a separator an escape would take in: right
        after a backslash, or (CSS) the one whitespace character after a hexadecimal escape."""
        separator = self.joining.separator
        after_backslash = "\\" + separator
        one_round = js_decode_once if name == "js_decode" else css_decode
        for _ in range(MAX_ROUNDS if name == "js_decode" else 1):
            if after_backslash in text:
                raise _Split(name)
            if name == "css_decode" and separator == "\n" and _CSS_HEX_BEFORE_NEWLINE.search(text):
                raise _Split(name)
            decoded = one_round(text)
            if decoded == text:
                break
            text = decoded
        return text

    def wakes(self, name: str, text: str) -> bool:
        """Every trigger lies within one text of a joined one (none matches a separator), but
        whitespace compression's, which is searched with newline separators left out."""
        if name != "compress_whitespace" or self.joining.separator != "\n":
            return super().wakes(name, text)
        return found_in(_SPACING, text)


SHORT_TEXT = 1024
"""A text up to this long has its forms' literals taken together; a longer one, form by form."""


Form = tuple[str, frozenset[int]]
"""A folded decoded text (or texts joined by newlines) and the signatures whose chains give it."""


def candidates_of_forms(rules: RuleSet, forms: list[Form], count: int, separator: str = "\n") -> list[set[int]]:
    """Per text, the signatures whose literal groups one of its forms holds, among those the form
    is for. `forms` hold `count` texts joined by `separator` (a single text is taken whole). A
    short text's forms are taken together: one evaluation per text instead of one per form, at the
    price of a candidate whose literals come from two forms (its regex then decides). A long
    text's forms are kept apart: there a needless candidate costs a long regex search."""
    found = [set(rules.always) for _ in range(count)]
    if rules.automaton is None:
        return found
    per_form: list[dict[int, set[int]]] = []
    bounds: list[list[int]] = []
    for low, _members in forms:
        if count == 1:
            bounds.append([0, len(low) + 1])
            ids = {literal_id for _end, literal_id in rules.automaton.iter(low)}
            per_form.append({0: ids} if ids else {})
        else:
            starts = [0, *(m.end() for m in re.finditer(re.escape(separator), low)), len(low) + 1]
            bounds.append(starts)
            per_form.append(_hits_by_text(rules, low, starts))
    for number in set().union(*per_form):
        if bounds[0][number + 1] - bounds[0][number] <= SHORT_TEXT:
            ids = set().union(*(hits.get(number, ()) for hits in per_form))
            texts = dict.fromkeys(_text(low, starts, number) for (low, _m), starts in zip(forms, bounds, strict=True))
            found[number] |= rules.satisfied(ids, "\n".join(texts))
        else:
            for (low, members), starts, hits in zip(forms, bounds, per_form, strict=True):
                if number in hits:
                    found[number] |= rules.satisfied(hits[number], _text(low, starts, number)) & members
    return found


def _text(low: str, starts: list[int], number: int) -> str:
    """Text `number` of a joined text whose texts start at `starts`."""
    return low[starts[number] : starts[number + 1] - 1]


def _hits_by_text(rules: RuleSet, low: str, starts: list[int]) -> dict[int, set[int]]:
    """The anchor literal ids found in each text of a joined text, hits across a separator left out."""
    lengths = rules.anchor_lengths
    found: dict[int, set[int]] = {}
    for end, literal_id in rules.automaton.iter(low):
        number = bisect_right(starts, end) - 1
        if end + 1 - lengths[literal_id] < starts[number] or end + 1 == starts[number + 1]:
            continue  # the hit takes in a separator
        ids = found.get(number)
        if ids is None:
            found[number] = {literal_id}
        else:
            ids.add(literal_id)
    return found
