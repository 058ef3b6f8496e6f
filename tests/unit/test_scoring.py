"""Anomaly scoring: severity points, threshold, distinct signatures, modes and the error policy."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from firewall.engine.matcher import Findings, Hit
from firewall.engine.model import Exclusion, Severity
from firewall.engine.scoring import DEFAULT_THRESHOLD, judge

HitFactory = Callable[..., Hit]

# The design's table: critical 5, high 4, medium 3, low 2.
POINTS = {"critical": 5, "high": 4, "medium": 3, "low": 2}


@pytest.mark.parametrize(("severity", "points"), POINTS.items())
def test_points_per_severity(make_hit: HitFactory, severity: str, points: int) -> None:
    assert Severity(severity).points == points
    verdict = judge(Findings([make_hit(severity=severity)]))
    assert verdict.score == points


def test_default_threshold_is_one_critical_signature(make_hit: HitFactory) -> None:
    assert POINTS["critical"] == DEFAULT_THRESHOLD
    assert judge(Findings([make_hit(severity="critical")])).detected is True
    assert judge(Findings([make_hit(severity="high")])).detected is False


@pytest.mark.parametrize(("threshold", "detected"), [(3, True), (4, True), (5, False), (100, False)])
def test_threshold(make_hit: HitFactory, threshold: int, detected: bool) -> None:
    verdict = judge(Findings([make_hit(severity="high")]), threshold=threshold)
    assert verdict.score == 4
    assert verdict.detected is detected
    assert verdict.action == ("quarantine" if detected else "forward")


def test_points_of_distinct_signatures_add_up(make_hit: HitFactory) -> None:
    hits = [make_hit(id=f"FW-UNIT-00{i}", severity="low") for i in range(1, 4)]
    assert judge(Findings(hits[:2])).score == 4
    three = judge(Findings(hits))
    assert three.score == 6
    assert three.detected is True
    assert three.signature_ids == ("FW-UNIT-001", "FW-UNIT-002", "FW-UNIT-003")


def test_a_signature_matching_several_fields_counts_once(make_hit: HitFactory) -> None:
    hits = [make_hit(path=path, severity="high") for path in ("sqs.body.a", "sqs.body.b", "sqs.body.c")]
    verdict = judge(Findings(hits))
    assert verdict.score == 4
    assert verdict.detected is False
    assert [m.path for m in verdict.matches] == ["sqs.body.a", "sqs.body.b", "sqs.body.c"]
    assert verdict.signature_ids == ("FW-UNIT-001",)


def test_matches_carry_what_the_contract_names(make_hit: HitFactory) -> None:
    hit = make_hit(
        path="s3.key",
        excerpt="../etc",
        id="FW-UNIT-007",
        title="T",
        family="lfi",
        severity="medium",
        transforms=["url_decode"],
    )
    (match,) = judge(Findings([hit])).matches
    assert (match.signature_id, match.title, match.category, match.severity, match.path, match.excerpt) == (
        "FW-UNIT-007",
        "T",
        "lfi",
        "medium",
        "s3.key",
        "../etc",
    )
    assert match.transforms == ("url_decode",)


def test_no_findings_is_a_clean_forward() -> None:
    verdict = judge(Findings(), record_id="msg-1")
    assert (verdict.detected, verdict.action, verdict.score, verdict.matches, verdict.error) == (
        False,
        "forward",
        0,
        (),
        None,
    )
    assert verdict.record_id == "msg-1"


def test_monitor_mode_forwards_but_still_reports_detection(make_hit: HitFactory) -> None:
    verdict = judge(Findings([make_hit(severity="critical")]), mode="monitor")
    assert verdict.detected is True
    assert verdict.action == "forward"
    assert verdict.score == 5
    assert len(verdict.matches) == 1


@pytest.mark.parametrize(
    ("mode", "on_error", "action"),
    [
        ("enforce", "quarantine", "quarantine"),  # fail closed, the default
        ("enforce", "forward", "forward"),  # fail open
        ("monitor", "quarantine", "forward"),  # monitor never holds anything back
        ("monitor", "forward", "forward"),
    ],
)
def test_error_policy(mode: str, on_error: str, action: str) -> None:
    verdict = judge(Findings(error="signature FW-X-001 exceeded its time budget"), mode=mode, on_error=on_error)
    assert verdict.action == action
    assert verdict.detected is False
    assert verdict.error == "signature FW-X-001 exceeded its time budget"


def test_detection_wins_over_a_fail_open_error_policy(make_hit: HitFactory) -> None:
    findings = Findings([make_hit(severity="critical")], error="budget spent")
    verdict = judge(findings, on_error="forward")
    assert verdict.detected is True
    assert verdict.action == "quarantine"
    assert verdict.error == "budget spent"


def test_error_default_is_quarantine() -> None:
    assert judge(Findings(error="boom")).action == "quarantine"


# --- exclusions (reviewed false positives) -------------------------------------------------------------


def test_exclusion_removes_a_signature_on_matching_paths_only(make_hit: HitFactory) -> None:
    hits = [
        make_hit(path="sqs.body.note", id="FW-UNIT-001", severity="critical"),
        make_hit(path="sqs.body.comment", id="FW-UNIT-001", severity="critical"),
    ]
    verdict = judge(Findings(hits), exclusions=[Exclusion("FW-UNIT-001", "sqs.body.note")])
    assert [m.path for m in verdict.matches] == ["sqs.body.comment"]
    assert verdict.score == 5
    assert verdict.detected is True


def test_exclusion_without_a_path_covers_every_field(make_hit: HitFactory) -> None:
    hits = [make_hit(path=p, id="FW-UNIT-001") for p in ("a", "b.c")] + [make_hit(id="FW-UNIT-002", severity="low")]
    verdict = judge(Findings(hits), exclusions=[Exclusion("FW-UNIT-001")])
    assert verdict.signature_ids == ("FW-UNIT-002",)
    assert verdict.score == 2
    assert verdict.detected is False


def test_exclusion_of_another_signature_changes_nothing(make_hit: HitFactory) -> None:
    verdict = judge(Findings([make_hit(path="sqs.body.note")]), exclusions=[Exclusion("FW-UNIT-999", "sqs.body.*")])
    assert verdict.signature_ids == ("FW-UNIT-001",)
    assert verdict.action == "quarantine"


def test_exclusion_path_is_a_glob(make_hit: HitFactory) -> None:
    excluded = [Exclusion("FW-UNIT-001", "sqs.body.items[[]*[]].note")]  # fnmatch: [[] is a literal [
    assert judge(Findings([make_hit(path="sqs.body.items[3].note")]), exclusions=excluded).matches == ()
    assert judge(Findings([make_hit(path="sqs.body.items[3].sku")]), exclusions=excluded).score == 5
