"""The transformed versions of one text, each transform step computed once.

Signatures list transform chains; many chains share steps, in any order (not only a common
prefix). A step is keyed by (transform, input text), so every chain reuses what any other chain
already computed, and each distinct output is folded for the prefilter once.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress
from operator import not_

from .literals import fold
from .transforms import TRANSFORMS, told, triggered

LOWER_CASED_INTO_ASCII = ("\u0130", "\u212a")
"""The only characters whose lower case holds ASCII: `İ` (`i` and a combining dot) and the Kelvin
sign (`k`). Lower-casing makes no character a trigger character or whitespace, takes no case to
make a URL-safe base64 run, and keeps a text outside ASCII (it wakes Unicode normalisation
either way): only these can wake a trigger in a text's lower case that the text lacks."""


def acting_decoders(text: str) -> frozenset[str]:
    """The decoders that can change `text` or its lower case: those whose trigger occurs in either.
    Lower-casing wakes a trigger only through `LOWER_CASED_INTO_ASCII` (`K` becomes `k`)."""
    acting = triggered(text)
    if text.isascii() or not any(map(text.__contains__, LOWER_CASED_INTO_ASCII)):
        return acting
    return acting | triggered(text.lower())


_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")
SHAPED_LENGTH = 32
"""Texts up to this long share `acting_decoders` with texts that differ from them only in digits."""


def acting_decoders_of(texts: Iterable[str]) -> tuple[list[str], list[tuple[str, frozenset[str]]]]:
    """The texts no decoder acts on, and each other text with its `acting_decoders` (some of which
    may be none). Both are told for a whole batch at once where they can be (`told`: most texts,
    and every ASCII one of a batch that does not give it up); of the others, short texts that
    differ only in digits share one evaluation, as no trigger tells one ASCII digit from another (a
    base64 run counts digits alike): a flood's 19,000 counters cost a translation and a lookup each."""
    listed = list(texts)
    calm, acting_of = told(listed)
    evaluated: list[tuple[str, frozenset[str]]] = []
    shared: dict[str, frozenset[str]] = {}
    for number in compress(range(len(listed)), map(not_, calm)):
        text, acting = listed[number], acting_of[number]
        if acting is None:
            if len(text) > SHAPED_LENGTH:
                acting = acting_decoders(text)
            else:
                shape = text.translate(_DIGITS_AS_ZERO)
                acting = shared.get(shape)
                if acting is None:
                    acting = shared[shape] = acting_decoders(text)
        evaluated.append((text, acting))
    return list(compress(listed, calm)), evaluated


class DecodedTexts:
    """What each chain makes of one text."""

    def __init__(self, text: str, acting: frozenset[str] | None = None) -> None:
        """`acting`: the decoders acting on `text`, when the caller knows them."""
        self._chains: dict[tuple[str, ...], str] = {(): text}
        self._steps: dict[tuple[str, int], str] = {}
        self._folded: dict[int, str] = {}
        self._distinct: dict[str, str] = {}
        self._alive: list[str] = [text]
        """Inputs stay referenced while their id() is a cache key."""
        self._triggers: dict[int, frozenset[str]] = {}
        """Per computed text (by id), the decoders acting on it."""
        if acting is not None:
            self._triggers[id(text)] = acting
        self._lowered_from: dict[int, str] = {}
        """Per text computed by lower-casing (by id), the text it was computed from."""
        self.reduced_to: frozenset[str] | None = None
        """The decoders this text's chains reduce to, once shown (`batching.settle`); None: none."""

    def get(self, chain: tuple[str, ...]) -> str:
        text = self._chains.get(chain)
        if text is None:
            text = self._chains[()]
            for name in chain:
                key = (name, id(text))
                output = self._steps.get(key)
                if output is None:
                    output = self._steps[key] = self.step(name, text)
                    self._alive.append(output)
                    if name == "lowercase" and output is not text:
                        self._lowered_from[id(output)] = text
                text = output
            self._chains[chain] = text
        return text

    def step(self, name: str, text: str) -> str:
        """One transform applied to one text (a hook for texts that hold several)."""
        return TRANSFORMS[name].function(text)

    def woken(self, acting: frozenset[str]) -> frozenset[str]:
        """The decoders outside `acting` that some text computed so far wakes (each text's triggers
        are found once)."""
        found: set[str] = set()
        for text in self._alive[1:]:
            found |= self._triggers_of(text)
        return frozenset(found - acting)

    def _triggers_of(self, text: str) -> frozenset[str]:
        """A computed text's triggers: those of the text it was lower-cased from, if ASCII (lower-casing
        ASCII wakes no trigger; it may put one to sleep, a URL-safe base64 run, and a decoder counted
        as acting that then changes nothing costs time, not correctness), else found in it."""
        names = self._triggers.get(id(text))
        if names is None:
            source = self._lowered_from.get(id(text))
            ascii_source = source is not None and source.isascii()
            names = self._triggers_of(source) if source is not None and ascii_source else self.triggers(text)
            self._triggers[id(text)] = names
        return names

    def triggers(self, text: str) -> frozenset[str]:
        """The decoders acting on one computed text (a hook for texts that hold several)."""
        return acting_decoders(text)

    def folded(self, chain: tuple[str, ...]) -> str:
        """The folded output of `chain`. Equal folded texts are one object, so that a caller keying
        them by id() scans each distinct text once (`Ab` and `ab` fold alike)."""
        text = self.get(chain)
        low = self._folded.get(id(text))
        if low is None:
            low = fold(text)
            low = self._folded[id(text)] = self._distinct.setdefault(low, low)
        return low
