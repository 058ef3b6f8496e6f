"""Immutable value objects shared by the loader, the compiler and the matcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase


class Severity(StrEnum):
    """Severity of a signature; its value in anomaly points is `points`."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def points(self) -> int:
        return _POINTS[self]


_POINTS = {Severity.CRITICAL: 5, Severity.HIGH: 4, Severity.MEDIUM: 3, Severity.LOW: 2}

MODES = ("enforce", "monitor")
ON_ERROR_POLICIES = ("quarantine", "forward")
PARANOIA_LEVELS = (1, 2, 3, 4)

FIELD_ROOTS: dict[str, frozenset[str] | None] = {
    "s3": frozenset({"bucket", "key", "object", "mail", "metadata", "tags"}),
    "sqs": frozenset({"body", "attributes", "mail", "MessageGroupId", "MessageDeduplicationId"}),
    "sns": frozenset({"subject", "message", "mail", "attributes"}),
    "dynamodb": frozenset({"Keys", "NewImage", "OldImage"}),
    "kinesis": frozenset({"data", "partitionKey"}),
    "eventbridge": None,
    "value": None,
}
"""The first segment of every field path (each event source's, and `value` for `inspect`), and the
members that may follow it (None: any). A target outside them can match nothing."""

_GLOB = frozenset("*?[")


def unreachable_target(target: str) -> str | None:
    """Why the target glob `target` can match no field path (a misspelt `Any` or `sqs.bdy` would
    turn its signature off without a word), or None when it may match."""
    if target == "any" or target[:1] in _GLOB:
        return None
    root, dot, rest = target.partition(".")
    if not _GLOB.isdisjoint(root):
        return None
    if root not in FIELD_ROOTS:
        hint = " (did you mean `any`?)" if target.lower() == "any" else ""
        return f"target {target!r} matches no field: paths start with {', '.join(FIELD_ROOTS)} or a wildcard{hint}"
    members = FIELD_ROOTS[root]
    segment = rest.split(".", 1)[0]
    member = segment.split("[", 1)[0]
    if members is None or (dot and (not member or not _GLOB.isdisjoint(segment))):
        return None
    if member not in members:
        return f"target {target!r} matches no field: after `{root}.` comes one of {', '.join(sorted(members))}"
    return None


@dataclass(frozen=True)
class Signature:
    """One detection rule as written in a signature file."""

    id: str
    title: str
    family: str
    severity: Severity
    paranoia: int
    targets: tuple[str, ...]
    transforms: tuple[str, ...]
    pattern: str
    tags: tuple[str, ...] = ()
    match_examples: tuple[str, ...] = ()
    no_match_examples: tuple[str, ...] = ()
    prefilter: tuple[tuple[str, ...], ...] = ()
    """Literals declared by the author; when empty, they are derived from the pattern."""
    file: str = ""
    line: int = 0

    @property
    def applies_everywhere(self) -> bool:
        return "any" in self.targets


@dataclass(frozen=True)
class Exclusion:
    """A reviewed false positive: `signature_id` no longer counts on fields matching the `path` glob
    (every field when None). Exclusions live in the route configuration, never in signatures, so a
    signature stays strong everywhere else."""

    signature_id: str
    path: str | None = None

    def covers(self, signature_id: str, path: str) -> bool:
        return signature_id == self.signature_id and (self.path is None or fnmatchcase(path, self.path))


@dataclass(frozen=True)
class Match:
    """One signature that matched one field of a record."""

    signature_id: str
    title: str
    category: str
    severity: str
    path: str
    excerpt: str
    transforms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The judgement on one value or one record.

    `detected` says whether the anomaly score reached the threshold, whatever the mode;
    `action` is what the runtime does with the record. `error` is set when inspection could
    not finish (time budget, malformed input); the action then follows the error policy.
    """

    detected: bool
    action: str
    score: int
    matches: tuple[Match, ...] = ()
    record_id: str | None = None
    error: str | None = None
    signature_ids: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form for logs, the CLI and quarantine envelopes."""
        return {
            "record_id": self.record_id,
            "detected": self.detected,
            "action": self.action,
            "score": self.score,
            "error": self.error,
            "matches": [
                {
                    "signature_id": m.signature_id,
                    "title": m.title,
                    "category": m.category,
                    "severity": m.severity,
                    "path": m.path,
                    "excerpt": m.excerpt,
                    "transforms": list(m.transforms),
                }
                for m in self.matches
            ],
        }
