"""Run the candidate signatures' regexes on a record's fields, one signature at a time.

A signature usually has many candidate fields and matches none. Where its pattern allows
(`boundaries.joinable`), its subjects are joined by newlines and searched in one call per chunk:
a miss clears every field of the chunk at once; a match is a hint, confirmed by the pattern on
the field it starts in, and the search goes on from the next field. Other patterns run field by
field. Every search has a timeout and the record a CPU budget; a joined search that times out
is retried field by field, where a timeout is a verdict.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import NamedTuple

from .batching import JoinedGroup
from .compiler import CompiledSignature, RuleSet
from .decoded import DecodedTexts
from .excerpt import excerpt
from .findings import MAX_PATHS_PER_SIGNATURE, Budget, Findings, Hit, Limits, Memo
from .model import Exclusion

JOIN_CHUNK = 32_768
"""Characters of subjects searched in one call: a timeout on a joined search stays cheap to retry."""

_SEPARATOR = "\n"


class GroupText(NamedTuple):
    """A field whose text was decoded with a joined group: its place in it."""

    group: JoinedGroup
    number: int


FieldTexts = DecodedTexts | GroupText | frozenset[str] | None
"""What the candidate stage leaves for a field: its decoded texts, its place in a joined group, or
the decoders its chains reduce to (None: none, every chain runs in full)."""


class RecordSearch:
    """The regex stage for one record."""

    def __init__(
        self,
        rules: RuleSet,
        items: list[tuple[str, str]],
        texts: dict[int, FieldTexts],
        limits: Limits,
        budget: Budget,
        findings: Findings,
        memo: Memo,
    ) -> None:
        self.rules, self.items, self.texts = rules, items, texts
        self.limits, self.budget, self.findings, self.memo = limits, budget, findings, memo
        self._decoded: dict[str, DecodedTexts] = {}
        self._lowered: dict[str, str] = {}
        self._hits: list[tuple[int, int, Hit]] = []

    def run(self, plan: dict[int, list[int]]) -> None:
        """`plan`: signature -> its candidate fields, in record order. Hits are reported in record
        order, then signature order; a spent budget stops everything and is the record's error."""
        for index in sorted(plan):
            if not self._signature(self.rules.signatures[index], plan[index]):
                break
        self._hits.sort(key=lambda hit: (hit[0], hit[1]))
        self.findings.hits.extend(hit for _, _, hit in self._hits)

    def _signature(self, compiled: CompiledSignature, fields: list[int]) -> bool:
        outcomes = self.memo.outcomes
        resolved: dict[int, str | None] = {}
        unknown: list[int] = []
        recalled_hits: list[int] = []
        for position in fields:
            key = (compiled.index, self.items[position][1])
            if key in outcomes:
                resolved[position] = outcomes[key]
                if resolved[position] is not None:
                    recalled_hits.append(position)
            else:
                unknown.append(position)
        if unknown:
            searcher = _SignatureSearch(self, compiled, resolved, recalled_hits)
            finished = searcher.joined(unknown) if compiled.joinable and len(unknown) > 1 else searcher.each(unknown)
            if not finished:
                return False
        reported = 0
        for position in fields:
            outcome = resolved.get(position)
            if outcome is not None:
                self._hits.append((position, compiled.index, Hit(compiled, self.items[position][0], outcome)))
                reported += 1
                if reported >= MAX_PATHS_PER_SIGNATURE:
                    break
        return True

    def subject(self, position: int, chain: tuple[str, ...]) -> str:
        """What `chain` makes of one field (reduced to its acting decoders where that holds)."""
        entry = self.texts[position]
        text = self.items[position][1]
        if isinstance(entry, frozenset) and not entry:  # most fields: no decoder acts, at most lower case
            return self._lower(text) if "lowercase" in chain else text
        if isinstance(entry, GroupText):
            subject = entry.group.subject(entry.number, self.rules.reduced(chain, entry.group.reduced_to))
            if subject is not None:
                return subject
            entry = entry.group.reduced_to
        if isinstance(entry, DecodedTexts):
            decoded, reduced = entry, entry.reduced_to
        else:
            decoded = self._decoded.get(text) or self._decoded.setdefault(text, DecodedTexts(text))
            reduced = entry
        return decoded.get(chain if reduced is None else self.rules.reduced(chain, reduced))

    def _lower(self, text: str) -> str:
        lowered = self._lowered.get(text)
        if lowered is None:
            lowered = self._lowered[text] = text.lower()
        return lowered


class _SignatureSearch:
    """One signature over the fields whose outcome no earlier search recalls."""

    def __init__(
        self, record: RecordSearch, compiled: CompiledSignature, resolved: dict[int, str | None], recalled: list[int]
    ) -> None:
        self.record, self.compiled, self.resolved, self.recalled = record, compiled, resolved, recalled
        self.confirmed = 0
        self.done = False
        """The signature has as many hits as it reports: later fields need no search."""
        self.no_run_until = 0
        """Fields before this one begin no run of MIN_GROUP_RUN texts of one group (`_group_slice`)."""

    def each(self, positions: Sequence[int]) -> bool:
        """Field by field, in order, until the signature has enough hits."""
        for position in positions:
            if not self._one(position):
                return False
            if self.done:
                break
        return True

    def joined(self, positions: list[int]) -> bool:
        """Chunks of subjects joined by newlines, one search per miss."""
        start = 0
        while start < len(positions):
            chunk, subjects = self._next_chunk(positions, start)
            start += len(chunk)
            if not self._chunk(chunk, subjects):
                return False
            if self.done:
                break
        return True

    def _next_chunk(self, positions: list[int], start: int) -> tuple[list[int], list[str]]:
        """The fields from `start` on whose subjects make up about JOIN_CHUNK characters, and those
        subjects. Consecutive texts of one joined group (thousands of decoded fields) are taken as
        a slice of the group's split output, not field by field."""
        record = self.record
        chunk: list[int] = []
        subjects: list[str] = []
        size = 0
        while start < len(positions) and (not chunk or size < JOIN_CHUNK):
            run, parts = self._group_slice(positions, start, JOIN_CHUNK - size)
            if not parts:
                run, parts = 1, [record.subject(positions[start], self.compiled.chain)]
            chunk += positions[start : start + run]
            subjects += parts
            size += sum(map(len, parts)) + run
            start += run
        return chunk, subjects

    def _group_slice(self, positions: list[int], start: int, room: int) -> tuple[int, list[str]]:
        """The subjects of the fields from `start` on that are consecutive texts of one joined group,
        as many as take up `room` characters; none for fewer than MIN_GROUP_RUN such fields."""
        texts = self.record.texts
        first = texts[positions[start]]
        if not isinstance(first, GroupText) or len(positions) - start < MIN_GROUP_RUN or start < self.no_run_until:
            return 0, []

        def in_run(offset: int) -> bool:
            entry = texts[positions[start + offset]]
            return isinstance(entry, GroupText) and entry.group is first.group and entry.number == first.number + offset

        for offset in range(1, MIN_GROUP_RUN):
            if not in_run(offset):
                self.no_run_until = start + offset  # no field before that starts a long enough run
                return 0, []
        every = first.group.subjects(self.record.rules.reduced(self.compiled.chain, first.group.reduced_to))
        if every is None:
            return 0, []
        taken = 0
        while start + taken < len(positions) and (taken < MIN_GROUP_RUN or in_run(taken)):
            room -= len(every[first.number + taken]) + 1
            taken += 1
            if room <= 0:
                break
        return taken, every[first.number : first.number + taken]

    def _chunk(self, chunk: list[int], subjects: list[str]) -> bool:
        """One chunk; False once the budget is spent."""
        record = self.record
        joined = _SEPARATOR.join(subjects)
        starts = [0, *accumulate(len(subject) + 1 for subject in subjects)]
        offset = 0
        cleared = 0
        while cleared < len(chunk):
            remaining = record.budget.remaining()
            if remaining <= 0:
                return self.each(chunk[cleared:])  # records the budget error
            try:
                match = self.compiled.joined_searcher.search(
                    joined, offset, timeout=min(record.limits.regex_timeout, remaining)
                )
            except TimeoutError:
                return self.each(chunk[cleared:])  # field by field, where a timeout is a verdict
            found = len(chunk) if match is None else bisect_right(starts, match.start()) - 1
            self._misses(chunk[cleared : min(found, len(chunk))])
            if match is None:
                break
            if not self._one(chunk[found]):
                return False
            if self.done:
                break
            cleared = found + 1
            offset = starts[cleared]
        return True

    def _one(self, position: int) -> bool:
        """The pattern on one field; False once the budget is spent (the error is recorded)."""
        record = self.record
        text = record.items[position][1]
        key = (self.compiled.index, text)
        if key in record.memo.outcomes:  # the same text in an earlier field
            self._count(position, record.memo.outcomes[key])
            return True
        remaining = record.budget.remaining()
        path = record.items[position][0]
        if remaining <= 0:
            record.findings.error = f"inspection exceeded its time budget of {record.budget.seconds:g}s at {path}"
            return False
        subject = record.subject(position, self.compiled.chain)
        try:
            match = self.compiled.searcher.search(subject, timeout=min(record.limits.regex_timeout, remaining))
        except TimeoutError:
            record.findings.error = (
                f"signature {self.compiled.signature.id} exceeded its time budget of "
                f"{record.limits.regex_timeout:g}s at {path}"
            )
            return False
        self._settle(position, None if match is None else excerpt(subject, match.start(), match.end()))
        return True

    def _misses(self, positions: list[int]) -> None:
        """`_settle` of fields the pattern does not match, all at once."""
        items, index = self.record.items, self.compiled.index
        self.record.memo.outcomes.update(((index, items[position][1]), None) for position in positions)
        self.resolved.update(dict.fromkeys(positions))

    def _settle(self, position: int, outcome: str | None) -> None:
        self.record.memo.outcomes[(self.compiled.index, self.record.items[position][1])] = outcome
        self._count(position, outcome)

    def _count(self, position: int, outcome: str | None) -> None:
        """Record a field's outcome. Fields are settled in record order, so once the hits up to this
        one (recalled ones included) reach the most a signature reports, later fields need no search."""
        self.resolved[position] = outcome
        if outcome is not None:
            self.confirmed += 1
            if self.confirmed + bisect_left(self.recalled, position) >= MAX_PATHS_PER_SIGNATURE:
                self.done = True


MIN_GROUP_RUN = 64
"""Consecutive fields of one joined group from which their subjects are sliced from the group."""


def plan_searches(
    rules: RuleSet, items: list[tuple[str, str]], found: dict[int, set[int]], exclusions: Sequence[Exclusion]
) -> dict[int, list[int]]:
    """Signature -> the fields it runs on, in record order: its candidate fields its targets cover,
    less those an exclusion covers (neither evaluated nor counted)."""
    plan: dict[int, list[int]] = {}
    for position in sorted(found):
        candidates = found[position]
        if not candidates:
            continue
        path = items[position][0]
        for index in _covering(rules, path, candidates):
            if exclusions and any(e.covers(rules.signatures[index].signature.id, path) for e in exclusions):
                continue
            plan.setdefault(index, []).append(position)
    return plan


def applicable(rules: RuleSet, path: str, candidates: set[int]) -> list[int]:
    """The candidates whose targets cover `path`, in signature order."""
    return sorted(_covering(rules, path, candidates))


def _covering(rules: RuleSet, path: str, candidates: set[int]) -> set[int]:
    if rules.targeted and not rules.targeted.isdisjoint(candidates):
        return candidates - rules.excluded_at(path)
    return candidates
