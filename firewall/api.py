"""The public entry point: `Firewall.load()` then `inspect()` or `inspect_event()`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain
from pathlib import Path
from typing import Any

from .engine.compiler import RuleSet, compile_signatures
from .engine.literals import derive_requirements
from .engine.loader import load_directory
from .engine.matcher import Findings, Limits, Memo, inspect_fields, prime
from .engine.model import MODES, ON_ERROR_POLICIES, Exclusion, Signature, Verdict
from .engine.scoring import DEFAULT_THRESHOLD, judge
from .pattern_cache import PatternCache
from .sources import parse_event
from .sources.base import Field, Record
from .sources.fields import flatten_value

DEFAULT_SIGNATURES = Path(__file__).resolve().parent.parent / "signatures"
"""The signature set shipped with the project (and copied beside the package in the Lambda bundle)."""


class Firewall:
    """A compiled signature set plus the settings that turn findings into verdicts."""

    def __init__(
        self,
        signatures: Iterable[Signature],
        *,
        paranoia: int = 1,
        mode: str = "enforce",
        on_error: str = "quarantine",
        threshold: int = DEFAULT_THRESHOLD,
        limits: Limits | None = None,
        exclusions: Iterable[Exclusion] = (),
        known_literals: Mapping[str, list[list[str]] | None] | None = None,
        known_relaxed: Mapping[str, tuple[str, str] | None] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if on_error not in ON_ERROR_POLICIES:
            raise ValueError(f"on_error must be one of {', '.join(ON_ERROR_POLICIES)}, got {on_error!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ValueError(f"threshold must be a positive whole number, got {threshold!r}")
        self.signatures = tuple(signatures)
        self.rules: RuleSet = compile_signatures(
            self.signatures, paranoia, known_literals=known_literals, known_relaxed=known_relaxed
        )
        self.paranoia = paranoia
        self.mode = mode
        self.on_error = on_error
        self.threshold = threshold
        self.limits = limits or Limits()
        self.exclusions = tuple(exclusions)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        paranoia: int = 1,
        mode: str = "enforce",
        on_error: str = "quarantine",
        threshold: int = DEFAULT_THRESHOLD,
        limits: Limits | None = None,
        exclusions: Iterable[Exclusion] = (),
    ) -> Firewall:
        """Load a signature directory or file (default: the bundled `signatures/`)."""
        location = Path(DEFAULT_SIGNATURES if path is None else path)
        cache = PatternCache.beside(location)
        signatures = load_directory(location, known_patterns=cache.valid)
        firewall = cls(
            signatures,
            paranoia=paranoia,
            mode=mode,
            on_error=on_error,
            threshold=threshold,
            limits=limits,
            exclusions=exclusions,
            known_literals=cache.literals,
            known_relaxed=cache.relaxed,
        )
        cache.update(
            (s.pattern for s in signatures),
            {s.pattern: derive_requirements(s.pattern) for s in signatures if s.pattern not in cache.literals},
            {} if firewall.rules.screen is None else firewall.rules.screen.translations,
        )
        return firewall

    @property
    def version(self) -> str:
        """Hash of the signature set, recorded in quarantine envelopes."""
        return self.rules.version

    def inspect(self, value: Any, path: str = "value") -> Verdict:
        """Judge one value: a string, bytes, or a JSON-like structure (every key and string in it)."""
        fields, problems = flatten_value(path, value)
        return self._judge(fields, problems, None)

    def inspect_fields(self, fields: Iterable[Field], record_id: str | None = None) -> Verdict:
        return self._judge(list(fields), [], record_id)

    def inspect_record(self, record: Record, memo: Memo | None = None) -> Verdict:
        """Judge one record. Records of one batch may share a `Memo`, so that texts recurring across
        them (keys, statuses) are examined once."""
        return self._judge(record.fields, record.problems, record.record_id, memo)

    def inspect_event(self, event: Any) -> list[Verdict]:
        """One verdict per record of a raw Lambda event, in order. Pure: no object is read."""
        records = parse_event(event).records
        memo = self.prepare(records)
        return [self.inspect_record(record, memo) for record in records]

    def prepare(self, records: Iterable[Record]) -> Memo:
        """A memo for judging `records` with `inspect_record`: their prefilter and regex searches done
        for the whole batch at once. Judging each record alone gives the same verdicts, more slowly."""
        memo = Memo()
        batch = list(records)
        if len(batch) > 1:  # one record gains nothing from a batch-wide pass
            fields = chain.from_iterable(record.fields for record in batch)
            prime(self.rules, fields, memo, self.limits, self.exclusions)
        return memo

    def _judge(
        self, fields: list[Field], problems: list[str], record_id: str | None, memo: Memo | None = None
    ) -> Verdict:
        findings: Findings = inspect_fields(self.rules, fields, self.limits, self.exclusions, memo)
        if problems and findings.error is None:
            findings.error = "; ".join(problems)
        return judge(
            findings,
            threshold=self.threshold,
            mode=self.mode,
            on_error=self.on_error,
            record_id=record_id,
            exclusions=self.exclusions,
        )
