"""Prefilter candidates of many decoded texts at once, when their decoders act on each text alone.

A record can carry thousands of fields that some decoder changes: prose with apostrophes, names
with accents, or an attacker's 20,000 copies of `it's 00042`. Decoding them one by one costs several
Python calls per text and chain. The decoders in `LOCAL_DECODERS` never act across a newline, so on
texts joined by newlines they give exactly the join of what they give on each text: a group of
texts with the same acting decoders is decoded, folded and scanned once per chain, and the hits are
mapped back to their text. When that cannot be shown for a group (a decoder produced a newline, or
woke a decoder outside the group's), the caller examines its texts one by one instead.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from .compiler import RuleSet
from .decoded import DecodedTexts
from .transforms import TRANSFORMS

LOCAL_DECODERS = frozenset(
    {"url_decode", "html_entity_decode", "cmdline_normalize", "remove_nulls", "unicode_nfkc", "path_normalize"}
)
"""Decoders none of whose patterns can match a newline. The texts of a group hold no newline (one
would wake `compress_whitespace`, which is not here), so newlines separate them safely. Excluded:
JavaScript/CSS escapes (a final backslash takes the next character), SQL comments (they run to the
end of the text), whitespace compression and base64 (it appends to the end of the text)."""

MIN_GROUP = 2
"""Smaller groups are examined text by text: joining gains nothing for one text."""

_SEPARATOR = "\n"
_SPACING = re.compile(r"[^\S \n]|  ")
"""`compress_whitespace`'s trigger within one text of a joined group, where newlines are separators."""
_TRIGGERS = tuple(
    (name, t.trigger) for name, t in TRANSFORMS.items() if t.trigger is not None and name != "compress_whitespace"
)


def group_candidates(rules: RuleSet, texts: list[str], acting: frozenset[str]) -> list[set[int]] | None:
    """The candidate signatures of each text, all of which have exactly `acting` as acting decoders;
    None when the group must be examined text by text."""
    if len(texts) < MIN_GROUP or not acting <= LOCAL_DECODERS:
        return None
    joined = _SEPARATOR.join(texts)
    if "cmdline_normalize" in acting and "${" in joined:
        return None  # `${...:-}` may span texts
    decoded = _Joined(joined, len(texts) - 1)
    outputs: dict[int, str] = {}
    try:
        for chain, _members in rules.projections(acting):
            low = decoded.folded(chain)
            outputs[id(low)] = low
    except _Split:
        return None
    if not decoded.within(acting):
        return None
    return candidates_of_forms(rules, list(outputs.values()), len(texts))


class _Split(Exception):
    """A decoder added or removed a separator: the joined text no longer splits into its texts."""


class _Joined(DecodedTexts):
    """The chains' outputs on texts joined by newlines."""

    def __init__(self, joined: str, separators: int) -> None:
        super().__init__(joined)
        self._separators = separators

    def step(self, name: str, text: str) -> str:
        output = super().step(name, text)
        if output is not text and output.count(_SEPARATOR) != self._separators:
            raise _Split(name)
        return output

    def acting(self, text: str) -> frozenset[str]:
        acting = _triggered_per_text(text)
        return acting if text.isascii() else acting | _triggered_per_text(text.lower())


def _triggered_per_text(joined: str) -> frozenset[str]:
    """The union over the joined texts of the transforms each one triggers: every trigger but
    whitespace compression's is found within one text (none matches a newline); that one is
    searched with newlines left out."""
    names = {name for name, trigger in _TRIGGERS if trigger.search(joined)}
    if _SPACING.search(joined):
        names.add("compress_whitespace")
    return frozenset(names)


def candidates_of_forms(rules: RuleSet, outputs: list[str], count: int) -> list[set[int]]:
    """Per text, the signatures whose literals its decoded forms hold, taken together: a signature
    looks at one chain's output only, so this can add a candidate (its regex then decides), never
    miss one, and costs one evaluation per text instead of one per chain. `outputs` hold `count`
    texts joined by newlines; a single text is taken whole, newlines and all."""
    found = [set(rules.always) for _ in range(count)]
    if rules.automaton is None:
        return found
    literal_ids: dict[int, set[int]] = {}
    bounds: list[list[int]] = []
    lengths = rules.anchor_lengths
    for low in outputs:
        starts = [0]
        if count > 1:
            starts += [m.end() for m in re.finditer(_SEPARATOR, low)]
        starts.append(len(low) + 1)
        bounds.append(starts)
        for end, literal_id in rules.automaton.iter(low):
            number = bisect_right(starts, end) - 1
            if end + 1 - lengths[literal_id] < starts[number] or end + 1 == starts[number + 1]:
                continue  # the hit takes in a separator
            ids = literal_ids.get(number)
            if ids is None:
                literal_ids[number] = {literal_id}
            else:
                ids.add(literal_id)
    for number, ids in literal_ids.items():
        forms = [low[starts[number] : starts[number + 1] - 1] for low, starts in zip(outputs, bounds, strict=True)]
        found[number] |= rules.satisfied(ids, _SEPARATOR.join(dict.fromkeys(forms)))
    return found
