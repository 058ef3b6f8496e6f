"""Match a record's fields against a `RuleSet` within a time budget.

Per field: one automaton pass over the lower-cased text finds the candidate signatures; each
distinct transform chain is computed at most once (prefixes shared); only candidates run their
regex, each with a timeout. A plain field (no character any decoder acts on) needs a single
automaton pass whatever the number of chains.
"""

from __future__ import annotations

import time
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
    """Seconds the whole record may take."""


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
    """The transformed versions of one field, each chain computed once, prefixes shared."""

    def __init__(self, text: str) -> None:
        self._texts: dict[tuple[str, ...], str] = {(): text}
        self._lowered: dict[tuple[str, ...], str] = {}

    def get(self, chain: tuple[str, ...]) -> str:
        text = self._texts.get(chain)
        if text is None:
            text = TRANSFORMS[chain[-1]].function(self.get(chain[:-1]))
            self._texts[chain] = text
        return text

    def lowered(self, chain: tuple[str, ...]) -> str:
        low = self._lowered.get(chain)
        if low is None:
            text = self.get(chain)
            low = fold(text)
            self._lowered[chain] = low
        return low


def inspect_fields(
    rules: RuleSet,
    fields: Iterable[tuple[str, str | bytes]],
    limits: Limits = Limits(),
    exclusions: Sequence[Exclusion] = (),
) -> Findings:
    findings = Findings()
    deadline = time.monotonic() + limits.record_budget
    hit_counts: dict[int, int] = {}
    for path, value in fields:
        if not _inspect_field(rules, path, as_text(value), limits, deadline, findings, hit_counts, exclusions):
            break
    return findings


def _candidates(rules: RuleSet, path: str, text: str, texts: _FieldTexts) -> list[int]:
    if ANY_TRIGGER.search(text) is None:
        # No decoder changes this text: every chain yields it, up to case.
        found = rules.literal_hits(fold(text)) | rules.always
    else:
        found = set(rules.always)
        scanned: dict[str, set[int]] = {}
        for chain, members in rules.chain_members.items():
            low = texts.lowered(chain)
            hits = scanned.get(low)
            if hits is None:
                hits = scanned[low] = rules.literal_hits(low)
            found |= hits & members
    if rules.targeted and found & rules.targeted:
        found -= rules.excluded_at(path)
    return sorted(found)


def _inspect_field(
    rules: RuleSet,
    path: str,
    text: str,
    limits: Limits,
    deadline: float,
    findings: Findings,
    hit_counts: dict[int, int],
    exclusions: Sequence[Exclusion] = (),
) -> bool:
    """Adds this field's hits; False once the time budget is spent (the error is recorded)."""
    texts = _FieldTexts(text)
    for index in _candidates(rules, path, text, texts):
        if hit_counts.get(index, 0) >= MAX_PATHS_PER_SIGNATURE:
            continue
        compiled = rules.signatures[index]
        if exclusions and any(e.covers(compiled.signature.id, path) for e in exclusions):
            continue  # an excluded (signature, path) is neither evaluated nor counted
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            findings.error = f"inspection exceeded its time budget of {limits.record_budget:g}s at {path}"
            return False
        subject = texts.get(compiled.chain)
        try:
            match = compiled.pattern.search(subject, timeout=min(limits.regex_timeout, remaining))
        except TimeoutError:
            findings.error = (
                f"signature {compiled.signature.id} exceeded its time budget of "
                f"{limits.regex_timeout:g}s at {path}"
            )
            return False
        if match is not None:
            hit_counts[index] = hit_counts.get(index, 0) + 1
            findings.hits.append(Hit(compiled, path, excerpt(subject, match.start(), match.end())))
    return True
