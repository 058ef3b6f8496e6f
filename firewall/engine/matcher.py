"""Match a record's fields against a `RuleSet` within a time budget.

An automaton pass over folded text finds each field's candidate signatures; only candidates run
their regex, each with a timeout, within a CPU budget for the record. Plain fields (no character
any decoder acts on) share one pass for the whole record; a field some decoder changes gets one
pass per distinct decoded text, its chains reduced to the decoders that act on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .batching import candidates_of_forms, group_candidates
from .compiler import CompiledSignature, RuleSet
from .decoded import DecodedTexts, acting_decoders
from .excerpt import excerpt
from .literals import fold
from .model import Exclusion

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


class _Budget:
    """The record's budget in CPU seconds: a verdict must not depend on how busy the machine is."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.process_time() + seconds

    def remaining(self) -> float:
        return self.deadline - time.process_time()


class Memo:
    """What the records of one batch share. Keys, statuses and currencies recur across records, and
    neither a text's candidates nor a regex's outcome on it depend on the field it sits in."""

    MAX_ENTRIES = 50_000
    """Past this many texts or outcomes the memo starts afresh: a batch of unique texts must not
    grow it without bound."""

    def __init__(self) -> None:
        self.candidates: dict[str, tuple[set[int], frozenset[str] | None]] = {}
        """text -> (its candidates, the decoders its chains reduce to; None: no reduction holds)."""
        self.outcomes: dict[tuple[int, str], str | None] = {}
        """(signature, text) -> the excerpt of the regex's match, None when it found nothing."""

    def trim(self) -> None:
        if len(self.candidates) > self.MAX_ENTRIES:
            self.candidates.clear()
        if len(self.outcomes) > self.MAX_ENTRIES:
            self.outcomes.clear()


def inspect_fields(
    rules: RuleSet,
    fields: Iterable[tuple[str, str | bytes]],
    limits: Limits = Limits(),
    exclusions: Sequence[Exclusion] = (),
    memo: Memo | None = None,
) -> Findings:
    """Every field's hits. Plain fields (the large majority of real data) are scanned together:
    one automaton pass over all of them, hits mapped back to their field. `memo` carries what
    earlier records of the same batch found."""
    findings = Findings()
    budget = _Budget(limits.record_budget)
    memo = Memo() if memo is None else memo
    memo.trim()
    items = [(path, as_text(value)) for path, value in fields]
    found, texts = record_candidates(rules, items, memo)
    hit_counts: dict[int, int] = {}
    for index, (path, text) in enumerate(items):
        if not found[index]:
            continue  # no signature could match this field: the common case
        candidates = _applicable(rules, path, found[index])
        run = _Run(rules, path, text, texts[index], limits, budget, findings, memo)
        if not run.candidates(candidates, hit_counts, exclusions):
            break
    return findings


def record_candidates(
    rules: RuleSet, items: list[tuple[str, str]], memo: Memo | None = None
) -> tuple[dict[int, set[int]], dict[int, DecodedTexts | frozenset[str] | None]]:
    """Per field of a record, the signatures whose literals it holds (before target filtering),
    and for each field either the decoded texts computed on the way or the decoders its chains
    reduce to (None: none, every chain runs in full). A text that recurs in the record (a
    currency, a status, a category), or that `memo` already holds, is examined once."""
    known = {} if memo is None else memo.candidates
    distinct: dict[str, list[int]] = {}
    found: dict[int, set[int]] = {}
    texts: dict[int, DecodedTexts | frozenset[str] | None] = {}
    for index, (_, text) in enumerate(items):
        recalled = known.get(text)
        if recalled is not None:
            found[index], texts[index] = recalled
            continue
        positions = distinct.get(text)
        if positions is None:
            distinct[text] = [index]
        else:
            positions.append(index)
    plain: list[str] = []
    groups: dict[frozenset[str], list[str]] = {}
    for text in distinct:
        acting = acting_decoders(text)
        if acting:
            groups.setdefault(acting, []).append(text)
        else:
            plain.append(text)
    alone: list[tuple[str, frozenset[str]]] = []
    for acting, members in groups.items():
        batched = group_candidates(rules, members, acting)
        if batched is None:
            alone += ((text, acting) for text in members)
            continue
        for text, shared in zip(members, batched, strict=True):
            known[text] = (shared, acting)
            for index in distinct[text]:
                found[index] = shared
                texts[index] = acting
    for text, acting in alone:
        decoded = DecodedTexts(text)
        shared = _decoded_candidates(rules, decoded, acting)
        known[text] = (shared, decoded.reduced_to)
        for index in distinct[text]:
            found[index] = shared
            texts[index] = decoded
    no_decoder: frozenset[str] = frozenset()
    for text, shared in zip(plain, _plain_candidates(rules, plain), strict=True):
        known[text] = (shared, no_decoder)
        for index in distinct[text]:
            found[index] = shared
            texts[index] = no_decoder
    return found, texts


def field_candidates(rules: RuleSet, path: str, text: str) -> list[int]:
    """The signatures whose regex would run on one field (what `inspect_fields` computes)."""
    found, _ = record_candidates(rules, [(path, text)])
    return _applicable(rules, path, found[0])


def _applicable(rules: RuleSet, path: str, candidates: set[int]) -> list[int]:
    if candidates and rules.targeted and candidates & rules.targeted:
        candidates = candidates - rules.excluded_at(path)
    return sorted(candidates)


def _plain_candidates(rules: RuleSet, texts: list[str]) -> list[set[int]]:
    """Candidates of texts no decoder would change (every chain yields them, up to case): the
    folded texts are joined with newlines, which plain texts never contain, and scanned once."""
    if not texts:
        return []
    return candidates_of_forms(rules, ["\n".join(fold(text) for text in texts)], len(texts))


def _decoded_candidates(rules: RuleSet, texts: DecodedTexts, acting: frozenset[str]) -> set[int]:
    """Candidates of a field some decoder changes. Only the decoders acting on the field can
    change it, so each chain is evaluated reduced to them (and lower case): a few forms instead of
    one per chain. That holds while no decoding wakes another decoder (`%26lt%3B` decodes into an
    HTML entity); when one does, every chain's form is added."""
    forms = {id(low): low for low in (texts.folded(chain) for chain, _ in rules.projections(acting))}
    if texts.within(acting):
        texts.reduced_to = acting
    else:
        forms.update((id(low), low) for low in (texts.folded(chain) for chain in rules.chain_members))
    return candidates_of_forms(rules, list(forms.values()), 1)[0]


class _Run:
    """The candidates' regexes on one field, within the record's budget."""

    def __init__(
        self,
        rules: RuleSet,
        path: str,
        text: str,
        texts: DecodedTexts | frozenset[str] | None,
        limits: Limits,
        budget: _Budget,
        findings: Findings,
        memo: Memo,
    ) -> None:
        self.rules, self.path, self.text = rules, path, text
        self.texts = texts if isinstance(texts, DecodedTexts) else None
        self.reduced_to = texts.reduced_to if isinstance(texts, DecodedTexts) else texts
        self.limits, self.budget, self.findings, self.memo = limits, budget, findings, memo

    def candidates(self, candidates: list[int], hit_counts: dict[int, int], exclusions: Sequence[Exclusion]) -> bool:
        """Runs each candidate (or recalls its outcome on the same text); False once the time budget
        is spent (the error is recorded)."""
        outcomes = self.memo.outcomes
        for index in candidates:
            if hit_counts.get(index, 0) >= MAX_PATHS_PER_SIGNATURE:
                continue
            compiled = self.rules.signatures[index]
            if exclusions and any(e.covers(compiled.signature.id, self.path) for e in exclusions):
                continue  # an excluded (signature, path) is neither evaluated nor counted
            key = (index, self.text)
            if key in outcomes:
                outcome = outcomes[key]
            else:
                finished, outcome = self._search(compiled)
                if not finished:
                    return False
                outcomes[key] = outcome
            if outcome is not None:
                hit_counts[index] = hit_counts.get(index, 0) + 1
                self.findings.hits.append(Hit(compiled, self.path, outcome))
        return True

    def _search(self, compiled: CompiledSignature) -> tuple[bool, str | None]:
        """(finished, the excerpt of the regex's match or None); not finished once the budget is spent."""
        remaining = self.budget.remaining()
        if remaining <= 0:
            self.findings.error = f"inspection exceeded its time budget of {self.budget.seconds:g}s at {self.path}"
            return False, None
        if self.texts is None:
            self.texts = DecodedTexts(self.text)
        chain = compiled.chain if self.reduced_to is None else self.rules.reduced(compiled.chain, self.reduced_to)
        subject = self.texts.get(chain)
        try:
            match = compiled.pattern.search(subject, timeout=min(self.limits.regex_timeout, remaining))
        except TimeoutError:
            self.findings.error = (
                f"signature {compiled.signature.id} exceeded its time budget of "
                f"{self.limits.regex_timeout:g}s at {self.path}"
            )
            return False, None
        return True, None if match is None else excerpt(subject, match.start(), match.end())
