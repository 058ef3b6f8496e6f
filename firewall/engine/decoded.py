"""The transformed versions of one text, each transform step computed once.

Signatures list transform chains; many chains share steps, in any order (not only a common
prefix). A step is keyed by (transform, input text), so every chain reuses what any other chain
already computed, and each distinct output is folded for the prefilter once.
"""

from __future__ import annotations

from .literals import fold
from .transforms import ONE_SCAN_LENGTH, TRANSFORMS, Trigger, triggered


def found_in(trigger: Trigger, text: str) -> bool:
    """Whether `trigger` occurs in `text` or, outside ASCII, in its lower case."""
    return trigger.search(text) is not None or (not text.isascii() and trigger.search(text.lower()) is not None)


def acting_decoders(text: str) -> frozenset[str]:
    """The decoders that can change `text` or its lower case: those whose trigger occurs in either.
    Lower-casing ASCII wakes no trigger; outside ASCII it can (the Kelvin sign becomes `k`)."""
    acting = triggered(text)
    return acting if text.isascii() else acting | triggered(text.lower())


_DECODERS = frozenset(name for name, t in TRANSFORMS.items() if t.trigger is not None)


class DecodedTexts:
    """What each chain makes of one text."""

    SCAN_WHOLE = True
    """Whether `acting_decoders` reads this object's texts right (a joined text's newlines are
    separators, not whitespace to compress)."""

    def __init__(self, text: str) -> None:
        self._chains: dict[tuple[str, ...], str] = {(): text}
        self._steps: dict[tuple[str, int], str] = {}
        self._folded: dict[int, str] = {}
        self._distinct: dict[str, str] = {}
        self._alive: list[str] = [text]
        """Inputs stay referenced while their id() is a cache key."""
        self._wakes: dict[int, dict[str, bool]] = {}
        """Per computed text (by id), which decoders it was found to wake or not."""
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
                text = output
            self._chains[chain] = text
        return text

    def step(self, name: str, text: str) -> str:
        """One transform applied to one text (a hook for texts that hold several)."""
        return TRANSFORMS[name].function(text)

    def woken(self, acting: frozenset[str]) -> frozenset[str]:
        """The decoders outside `acting` that some text computed so far wakes. Each (text, decoder)
        is searched once, and only for decoders outside the set: on a 256 KB text each search
        costs a scan."""
        found: set[str] = set()
        for text in self._alive[1:]:
            if self.SCAN_WHOLE and len(text) <= ONE_SCAN_LENGTH:
                found |= acting_decoders(text) - acting  # one scan for every trigger character
                continue
            outcomes = self._wakes.setdefault(id(text), {})
            for name in _DECODERS - acting - found:
                hit = outcomes.get(name)
                if hit is None:
                    hit = outcomes[name] = self.wakes(name, text)
                if hit:
                    found.add(name)
        return frozenset(found)

    def wakes(self, name: str, text: str) -> bool:
        """Whether decoder `name` acts on `text` or its lower case."""
        trigger = TRANSFORMS[name].trigger
        return trigger is not None and found_in(trigger, text)

    def folded(self, chain: tuple[str, ...]) -> str:
        """The folded output of `chain`. Equal folded texts are one object, so that a caller keying
        them by id() scans each distinct text once (`Ab` and `ab` fold alike)."""
        text = self.get(chain)
        low = self._folded.get(id(text))
        if low is None:
            low = fold(text)
            low = self._folded[id(text)] = self._distinct.setdefault(low, low)
        return low
