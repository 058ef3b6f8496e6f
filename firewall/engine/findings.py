"""What inspecting a record produces and spends: its limits, hits and CPU budget, and the memo
the records of one batch share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .compiler import CompiledSignature
from .screen import Allowance

MAX_PATHS_PER_SIGNATURE = 3
"""A signature reports at most this many fields of a record."""


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


class Budget:
    """The record's budget in CPU seconds: a verdict must not depend on how busy the machine is."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.process_time() + seconds

    def remaining(self) -> float:
        return self.deadline - time.process_time()


class Memo:
    """What the records of one batch share. Keys, statuses and currencies recur across records, and
    neither a text's candidates nor a regex's outcome on it depend on the field it sits in, but for
    the signatures the screen leaves out of candidates (`paths`)."""

    MAX_ENTRIES = 50_000
    """Past this many texts or outcomes the memo starts afresh: a batch of unique texts must not
    grow it without bound."""

    def __init__(self) -> None:
        self.screening = Allowance()
        """The screening time the batch has left (`screen`): a record the screen does not pay for
        (text that keeps RE2 building new states) must not cost more than this for it."""
        self.candidates: dict[str, tuple[set[int], frozenset[str] | None]] = {}
        """text -> (its candidates, the decoders its chains reduce to; None: no reduction holds)."""
        self.outcomes: dict[tuple[int, str], str | None] = {}
        """(signature, text) -> the excerpt of the regex's match, None when it found nothing."""
        self.paths: set[str] = set()
        """Paths none of the signatures the screen left out of `candidates` (`screening.leave_out`)
        targets. Those are set by the fields the memo is first given (the whole batch's, when
        primed): no field among them is a target of theirs. A record with fields at these paths
        alone recalls; one with a field a left-out signature targets (an S3 object's, read after
        the batch) works its candidates out afresh. Empty until fields are first given."""

    def trim(self) -> None:
        if len(self.candidates) > self.MAX_ENTRIES:
            self.candidates.clear()
        if len(self.outcomes) > self.MAX_ENTRIES:
            self.outcomes.clear()
