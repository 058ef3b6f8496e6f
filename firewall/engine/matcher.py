"""Match a record's fields against a `RuleSet` within a time budget.

An automaton pass over folded text finds each field's candidate signatures; only candidates run
their regex, each with a timeout, within a CPU budget for the record. Plain fields (no character
any decoder acts on) share one pass for the whole record; a field some decoder changes gets one
pass per distinct decoded text, its chains reduced to the decoders that act on it.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .compiler import CompiledSignature, RuleSet
from .excerpt import excerpt
from .literals import fold
from .model import Exclusion
from .transforms import ANY_TRIGGER, TRANSFORMS

MAX_PATHS_PER_SIGNATURE = 3
"""A signature that already matched this many fields of a record is not evaluated again."""


@dataclass(frozen=True)
class Limits:
    regex_timeout: float = 0.05
    """Seconds one regex search may take before the field is judged under the error policy."""
    record_budget: float = 2.0
    """CPU seconds the whole record may take."""


@dataclass
class Hit:
    signature: CompiledSignature
    path: str
    excerpt: str


@dataclass
class Findings:
    hits: list[Hit] = field(default_factory=list)
    error: str | None = None


def as_text(value: str | bytes) -> str:
    """Bytes are read as UTF-8 where valid, else byte for byte (Latin-1), so no byte is lost."""
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


class _FieldTexts:
    """The transformed versions of one field. Each step (transform, input) is computed once, so
    chains that share steps in any order (not only a common prefix) share the work, and each
    distinct text is folded once."""

    def __init__(self, text: str) -> None:
        self._chains: dict[tuple[str, ...], str] = {(): text}
        self._steps: dict[tuple[str, int], str] = {}
        self._folded: dict[int, str] = {}
        self._alive: list[str] = [text]
        """Inputs stay referenced while their id() is a cache key."""
        self._checked: set[int] = set()

    def get(self, chain: tuple[str, ...]) -> str:
        text = self._chains.get(chain)
        if text is None:
            text = self._chains[()]
            for name in chain:
                key = (name, id(text))
                output = self._steps.get(key)
                if output is None:
                    output = self._steps[key] = TRANSFORMS[name].function(text)
                    self._alive.append(output)
                text = output
            self._chains[chain] = text
        return text

    def within(self, acting: frozenset[str]) -> bool:
        """Whether no text computed so far wakes a decoder outside `acting`."""
        for text in self._alive[1:]:
            if id(text) not in self._checked:
                if not acting_decoders(text) <= acting:
                    return False
                self._checked.add(id(text))
        return True

    def folded(self, chain: tuple[str, ...]) -> str:
        text = self.get(chain)
        low = self._folded.get(id(text))
        if low is None:
            low = self._folded[id(text)] = fold(text)
        return low


class _Budget:
    """The record's budget in CPU seconds: a verdict must not depend on how busy the machine is."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.process_time() + seconds

    def remaining(self) -> float:
        return self.deadline - time.process_time()


def inspect_fields(
    rules: RuleSet,
    fields: Iterable[tuple[str, str | bytes]],
    limits: Limits = Limits(),
    exclusions: Sequence[Exclusion] = (),
) -> Findings:
    """Every field's hits. Plain fields (the large majority of real data) are scanned together:
    one automaton pass over all of them, hits mapped back to their field."""
    findings = Findings()
    budget = _Budget(limits.record_budget)
    items = [(path, as_text(value)) for path, value in fields]
    found, texts = record_candidates(rules, items)
    hit_counts: dict[int, int] = {}
    for index, (path, text) in enumerate(items):
        if not found[index]:
            continue  # no signature could match this field: the common case
        candidates = _applicable(rules, path, found[index])
        field_texts = texts.get(index) or _FieldTexts(text)
        if not _run(rules, path, field_texts, candidates, limits, budget, findings, hit_counts, exclusions):
            break
    return findings


def record_candidates(
    rules: RuleSet, items: list[tuple[str, str]]
) -> tuple[dict[int, set[int]], dict[int, _FieldTexts]]:
    """Per field of a record, the signatures whose literals it holds (before target filtering),
    and the decoded texts computed on the way. A text that recurs in the record (a currency, a
    status, a category) is examined once."""
    found = _plain_candidates(rules, items)
    texts: dict[int, _FieldTexts] = {}
    seen: dict[str, int] = {}
    for index, (_, text) in enumerate(items):
        if index in found:
            continue
        first = seen.setdefault(text, index)
        if first == index:
            texts[index] = _FieldTexts(text)
            found[index] = _decoded_candidates(rules, texts[index])
        else:
            texts[index] = texts[first]
            found[index] = found[first]
    return found, texts


def field_candidates(rules: RuleSet, path: str, text: str) -> list[int]:
    """The signatures whose regex would run on one field (what `inspect_fields` computes)."""
    found, _ = record_candidates(rules, [(path, text)])
    return _applicable(rules, path, found[0])


def _applicable(rules: RuleSet, path: str, candidates: set[int]) -> list[int]:
    if candidates and rules.targeted and candidates & rules.targeted:
        candidates = candidates - rules.excluded_at(path)
    return sorted(candidates)


def _plain_candidates(rules: RuleSet, items: list[tuple[str, str]]) -> dict[int, set[int]]:
    """Candidates of every field no decoder would change (every chain yields it, up to case): the
    folded texts are joined with newlines, which plain texts never contain (a declared literal
    holding one can only add candidates), and scanned once."""
    distinct: dict[str, list[int]] = {}
    for index, (_, text) in enumerate(items):
        positions = distinct.get(text)
        if positions is not None:
            positions.append(index)
        elif ANY_TRIGGER.search(text) is None:
            distinct[text] = [index]
    if not distinct or rules.automaton is None:
        return {index: set(rules.always) for positions in distinct.values() for index in positions}
    texts = list(distinct)
    folded = [fold(text) for text in texts]
    starts = []
    position = 0
    for text in folded:
        starts.append(position)
        position += len(text) + 1
    found: dict[int, set[int]] = {}
    for end, literal_id in rules.automaton.iter("\n".join(folded)):
        found.setdefault(bisect_right(starts, end) - 1, set()).add(literal_id)
    candidates: dict[int, set[int]] = {}
    for number, text in enumerate(texts):
        literal_ids = found.get(number)
        shared = rules.satisfied(literal_ids, folded[number]) | rules.always if literal_ids else set(rules.always)
        for index in distinct[text]:
            candidates[index] = shared
    return candidates


def _decoded_candidates(rules: RuleSet, texts: _FieldTexts) -> set[int]:
    """Candidates of a field some decoder changes. Only the decoders acting on the field can
    change it, so each chain is evaluated reduced to them (and lower case): a few evaluations
    instead of one per chain. That holds while no decoding wakes another decoder (`%26lt%3B`
    decodes into an HTML entity); when one does, every chain is evaluated in full."""
    acting = acting_decoders(texts.get(()))
    found = set(rules.always)
    scanned: dict[int, set[int]] = {}
    for chain, members in rules.projections(acting):
        found |= _chain_hits(rules, texts, chain, scanned) & members
    if texts.within(acting):
        return found
    found = set(rules.always)
    for chain, members in rules.chain_members.items():
        found |= _chain_hits(rules, texts, chain, scanned) & members
    return found


def _chain_hits(rules: RuleSet, texts: _FieldTexts, chain: tuple[str, ...], scanned: dict[int, set[int]]) -> set[int]:
    low = texts.folded(chain)
    hits = scanned.get(id(low))
    if hits is None:
        hits = scanned[id(low)] = rules.literal_hits(low)
    return hits


def acting_decoders(text: str) -> frozenset[str]:
    """The decoders that can change `text` or its lower case: those whose trigger occurs in either.
    Lower-casing ASCII wakes no trigger; outside ASCII it can (the Kelvin sign becomes `k`)."""
    acting = _triggered(text)
    return acting if text.isascii() else acting | _triggered(text.lower())


def _triggered(text: str) -> frozenset[str]:
    return frozenset(name for name, t in TRANSFORMS.items() if t.trigger is not None and t.trigger.search(text))


def _run(
    rules: RuleSet,
    path: str,
    texts: _FieldTexts,
    candidates: list[int],
    limits: Limits,
    budget: _Budget,
    findings: Findings,
    hit_counts: dict[int, int],
    exclusions: Sequence[Exclusion],
) -> bool:
    """Runs the candidates' regexes on one field; False once the time budget is spent (the error
    is recorded)."""
    for index in candidates:
        if hit_counts.get(index, 0) >= MAX_PATHS_PER_SIGNATURE:
            continue
        compiled = rules.signatures[index]
        if exclusions and any(e.covers(compiled.signature.id, path) for e in exclusions):
            continue  # an excluded (signature, path) is neither evaluated nor counted
        remaining = budget.remaining()
        if remaining <= 0:
            findings.error = f"inspection exceeded its time budget of {budget.seconds:g}s at {path}"
            return False
        subject = texts.get(compiled.chain)
        try:
            match = compiled.pattern.search(subject, timeout=min(limits.regex_timeout, remaining))
        except TimeoutError:
            findings.error = (
                f"signature {compiled.signature.id} exceeded its time budget of {limits.regex_timeout:g}s at {path}"
            )
            return False
        if match is not None:
            hit_counts[index] = hit_counts.get(index, 0) + 1
            findings.hits.append(Hit(compiled, path, excerpt(subject, match.start(), match.end())))
    return True
