"""The transformed versions of one text, each transform step computed once.

Signatures list transform chains; many chains share steps, in any order (not only a common
prefix). A step is keyed by (transform, input text), so every chain reuses what any other chain
already computed, and each distinct output is folded for the prefilter once.
"""

from __future__ import annotations

from .literals import fold
from .transforms import TRANSFORMS, triggered


def acting_decoders(text: str) -> frozenset[str]:
    """The decoders that can change `text` or its lower case: those whose trigger occurs in either.
    Lower-casing ASCII wakes no trigger; outside ASCII it can (the Kelvin sign becomes `k`)."""
    acting = triggered(text)
    return acting if text.isascii() else acting | triggered(text.lower())


class DecodedTexts:
    """What each chain makes of one text."""

    def __init__(self, text: str) -> None:
        self._chains: dict[tuple[str, ...], str] = {(): text}
        self._steps: dict[tuple[str, int], str] = {}
        self._folded: dict[int, str] = {}
        self._distinct: dict[str, str] = {}
        self._alive: list[str] = [text]
        """Inputs stay referenced while their id() is a cache key."""
        self._checked: set[int] = set()
        self.reduced_to: frozenset[str] | None = None
        """The decoders acting on this text, once shown that its chains reduce to them (`within`)."""

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
                text = output
            self._chains[chain] = text
        return text

    def step(self, name: str, text: str) -> str:
        """One transform applied to one text (a hook for texts that hold several)."""
        return TRANSFORMS[name].function(text)

    def within(self, acting: frozenset[str]) -> bool:
        """Whether no text computed so far wakes a decoder outside `acting`."""
        for text in self._alive[1:]:
            if id(text) not in self._checked:
                if not self.acting(text) <= acting:
                    return False
                self._checked.add(id(text))
        return True

    def acting(self, text: str) -> frozenset[str]:
        """The decoders acting on one computed text."""
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
