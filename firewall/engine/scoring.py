"""Anomaly scoring, as WAFs do it: each distinct signature adds its severity's points."""

from __future__ import annotations

from collections.abc import Sequence

from .matcher import Findings
from .model import Exclusion, Match, Verdict

DEFAULT_THRESHOLD = 5


def judge(
    findings: Findings,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    mode: str = "enforce",
    on_error: str = "quarantine",
    record_id: str | None = None,
    exclusions: Sequence[Exclusion] = (),
) -> Verdict:
    """Turn findings into a verdict. Monitor mode forwards everything but still reports."""
    points: dict[str, int] = {}
    matches = []
    for hit in findings.hits:
        sig = hit.signature.signature
        if any(exclusion.covers(sig.id, hit.path) for exclusion in exclusions):
            continue
        points[sig.id] = sig.severity.points
        matches.append(
            Match(sig.id, sig.title, sig.family, sig.severity.value, hit.path, hit.excerpt, sig.transforms)
        )
    score = sum(points.values())
    detected = score >= threshold
    if mode == "monitor":
        action = "forward"
    elif detected or (findings.error is not None and on_error == "quarantine"):
        action = "quarantine"
    else:
        action = "forward"
    return Verdict(
        detected=detected,
        action=action,
        score=score,
        matches=tuple(matches),
        record_id=record_id,
        error=findings.error,
        signature_ids=tuple(points),
    )
