"""The public API (contract): Firewall.load, settings validation, inspect on every kind of value,
inspect_event, and JSON-ready verdicts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import firewall
import firewall.api
from firewall import DEFAULT_SIGNATURES, Exclusion, Firewall, Limits, Signature, UnknownEventError, Verdict
from firewall.engine.matcher import MAX_PATHS_PER_SIGNATURE
from firewall.sources.base import Field

SqsEvent = Callable[..., dict[str, Any]]
"""The `sqs_event` fixture (conftest): bodies -> an SQS event."""

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def bundled(bundled_signatures: tuple[Signature, ...]) -> Firewall:
    return Firewall(bundled_signatures)


@pytest.fixture(scope="module")
def good(fixtures_dir: Path) -> Path:
    return fixtures_dir / "good"


@pytest.fixture(scope="module")
def fw(good: Path) -> Firewall:
    return Firewall.load(good)


# --- loading and settings -------------------------------------------------------------------------


def test_public_names_are_exported() -> None:
    for name in ("Firewall", "Verdict", "Match", "Limits", "SignatureError", "UnknownEventError", "__version__"):
        assert hasattr(firewall, name), name


def test_load_defaults_to_the_bundled_signatures(
    monkeypatch: pytest.MonkeyPatch, bundled_signatures: tuple[Signature, ...]
) -> None:
    files = {p.resolve() for p in [*DEFAULT_SIGNATURES.glob("*.yaml"), *DEFAULT_SIGNATURES.glob("*.yml")]}
    assert files
    assert {Path(s.file).resolve() for s in bundled_signatures} == files
    asked: list[Path] = []

    def load_directory(path: str | Path, **_: object) -> tuple[Signature, ...]:  # the bundled set, already parsed
        asked.append(Path(path))
        return bundled_signatures

    monkeypatch.setattr(firewall.api, "load_directory", load_directory)
    fw = Firewall.load()
    assert asked == [DEFAULT_SIGNATURES]
    assert fw.signatures == bundled_signatures
    assert (fw.paranoia, fw.mode, fw.on_error, fw.threshold) == (1, "enforce", "quarantine", 5)
    assert all(c.signature.paranoia == 1 for c in fw.rules.signatures)


def test_contract_example_is_detected_by_the_bundled_signatures(bundled: Firewall) -> None:
    verdict = bundled.inspect("1' OR '1'='1")
    assert verdict.detected is True
    assert verdict.action == "quarantine"
    assert verdict.score >= 5
    assert {m.category for m in verdict.matches} == {"sqli"}


def test_plain_text_is_forwarded_by_the_bundled_signatures(bundled: Firewall) -> None:
    verdict = bundled.inspect("Please deliver the parcel to the back door, thanks!")
    assert (verdict.detected, verdict.action, verdict.score, verdict.matches) == (False, "forward", 0, ())


def test_load_with_paranoia_and_mode(good: Path) -> None:
    fw = Firewall.load(good, paranoia=2, mode="monitor")
    assert "FW-TEST-003" in {c.signature.id for c in fw.rules.signatures}  # the paranoia-2 signature
    verdict = fw.inspect(SCRIPT)
    assert verdict.detected is True
    assert verdict.action == "forward"
    assert fw.inspect("1 and sleep(5)").signature_ids == ("FW-TEST-003",)


def test_paranoia_1_leaves_level_2_signatures_out(fw: Firewall) -> None:
    assert "FW-TEST-003" not in {c.signature.id for c in fw.rules.signatures}
    assert fw.inspect("1 and sleep(5)").matches == ()


def test_load_a_single_file(good: Path) -> None:
    fw = Firewall.load(good / "more.yml")
    assert [s.id for s in fw.signatures] == ["FW-TESTMORE-001"]


@pytest.mark.parametrize(
    "settings",
    [
        {"mode": "block"},
        {"mode": "Enforce"},
        {"on_error": "drop"},
        {"on_error": "fail"},
        {"threshold": 0},
        {"threshold": -5},
        {"threshold": 2.5},
        {"threshold": "5"},
        {"threshold": True},
        {"paranoia": 0},
        {"paranoia": 5},
        {"paranoia": "2"},
    ],
)
def test_invalid_settings_raise_value_error(good: Path, settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        Firewall.load(good, **settings)
    (name,) = settings
    assert name in str(info.value)


def test_boolean_paranoia_is_refused(good: Path) -> None:
    with pytest.raises(ValueError):
        Firewall.load(good, paranoia=True)


def test_missing_signature_path_raises_a_firewall_error(tmp_path: Path) -> None:
    with pytest.raises(firewall.SignatureError):
        Firewall.load(tmp_path / "missing")


def test_threshold_setting(good: Path) -> None:
    low = "1 UNION SELECT 2"  # one low-severity signature: 2 points
    assert Firewall.load(good).inspect(low).detected is False
    strict = Firewall.load(good, threshold=2)
    assert strict.inspect(low).detected is True
    assert strict.inspect(low).action == "quarantine"


def test_fail_open_setting_forwards_on_error(good: Path) -> None:
    spent = Limits(regex_timeout=0.05, record_budget=0.0)
    assert Firewall.load(good, limits=spent).inspect(SCRIPT).action == "quarantine"
    verdict = Firewall.load(good, limits=spent, on_error="forward").inspect(SCRIPT)
    assert verdict.error is not None
    assert verdict.action == "forward"


def test_version_is_a_stable_hash_of_the_definitions(good: Path, tmp_path: Path) -> None:
    assert Firewall.load(good).version == Firewall.load(good, paranoia=4, mode="monitor").version
    changed = tmp_path / "sigs"
    changed.mkdir()
    for path in good.iterdir():
        (changed / path.name).write_text(path.read_text().replace("'<script\\b'", "'<script'"))
    assert Firewall.load(changed).version != Firewall.load(good).version


# --- inspect -------------------------------------------------------------------------------------------


def test_inspect_str(fw: Firewall) -> None:
    verdict = fw.inspect(SCRIPT)
    assert isinstance(verdict, Verdict)
    assert (verdict.detected, verdict.action, verdict.score) == (True, "quarantine", 5)
    (match,) = verdict.matches
    assert (match.signature_id, match.path, match.category) == ("FW-TEST-001", "value", "test")
    assert match.severity == "critical"
    assert "<script" in match.excerpt


def test_inspect_uses_the_given_path_for_targets(fw: Firewall) -> None:
    assert fw.inspect("../../etc/passwd").matches == ()  # FW-TEST-002 targets s3.key only
    verdict = fw.inspect("../../etc/passwd", path="s3.key")
    assert verdict.signature_ids == ("FW-TEST-002",)
    assert verdict.matches[0].path == "s3.key"


def test_inspect_bytes(fw: Firewall) -> None:
    assert fw.inspect(SCRIPT.encode()).detected is True
    assert fw.inspect(b"\xff\xfe" + SCRIPT.encode() + b"\x80").detected is True  # invalid UTF-8
    assert fw.inspect(b"\x00\x01\x02 binary").detected is False


def test_inspect_dict_checks_nested_values_and_keys(fw: Firewall) -> None:
    verdict = fw.inspect({"order": {"items": [{"note": "ok"}, {"note": SCRIPT}]}, "qty": 2})
    assert verdict.detected is True
    assert [m.path for m in verdict.matches] == ["value.order.items[1].note"]
    key = fw.inspect({SCRIPT: "harmless value"})
    assert key.detected is True
    assert key.matches[0].path.startswith("value")


def test_inspect_dict_opens_json_held_in_a_string(fw: Firewall) -> None:
    verdict = fw.inspect({"body": json.dumps({"comment": "%3Cscript%3E"})})
    assert verdict.detected is True
    assert "value.body.comment" in [m.path for m in verdict.matches]


def test_inspect_list(fw: Firewall) -> None:
    verdict = fw.inspect(["fine", 3, None, True, SCRIPT])
    assert verdict.detected is True
    assert [m.path for m in verdict.matches] == ["value[4]"]
    assert fw.inspect(["fine", {"also": "fine"}]).detected is False


def test_inspect_benign_structure(fw: Firewall) -> None:
    verdict = fw.inspect({"name": "Ada", "tags": ["a", "b"], "n": 1.5})
    assert (verdict.detected, verdict.action, verdict.error) == (False, "forward", None)


# --- exclusions ---------------------------------------------------------------------------------------


def test_exclusion_silences_a_reviewed_false_positive_on_one_path(good: Path) -> None:
    quiet = Firewall.load(good, exclusions=[Exclusion("FW-TEST-001", "sqs.body.template")])
    assert quiet.inspect_fields([Field("sqs.body.template", SCRIPT)]).detected is False
    assert quiet.inspect_fields([Field("sqs.body.comment", SCRIPT)]).detected is True


def test_excluded_fields_cannot_hide_an_attack_in_another_field(good: Path) -> None:
    fw = Firewall.load(good, exclusions=[Exclusion("FW-TEST-001", "sqs.body.note*")])
    decoys = [Field(f"sqs.body.note{i}", SCRIPT) for i in range(MAX_PATHS_PER_SIGNATURE)]
    verdict = fw.inspect_fields([*decoys, Field("sqs.body.comment", SCRIPT)])
    assert verdict.detected is True
    assert [m.path for m in verdict.matches] == ["sqs.body.comment"]


# --- inspect_event ----------------------------------------------------------------------------------


def test_inspect_event_gives_one_verdict_per_record_in_order(fw: Firewall, sqs_event: SqsEvent) -> None:
    event = sqs_event("hello", json.dumps({"note": SCRIPT}), "bye")
    verdicts = fw.inspect_event(event)
    assert [v.record_id for v in verdicts] == ["msg-1", "msg-2", "msg-3"]
    assert [v.action for v in verdicts] == ["forward", "quarantine", "forward"]
    assert any(m.path.startswith("sqs.body") for m in verdicts[1].matches)


def test_inspect_event_rejects_an_unknown_shape(fw: Firewall) -> None:
    with pytest.raises(UnknownEventError):
        fw.inspect_event({"hello": "world"})
    with pytest.raises(ValueError):  # UnknownEventError is also a ValueError
        fw.inspect_event(["not", "an", "event"])


# --- verdicts as JSON -------------------------------------------------------------------------------


def test_verdict_to_dict_is_json_serialisable(fw: Firewall) -> None:
    verdict = fw.inspect({"a": SCRIPT, "b": "\x00\udc80 odd text", "c": b"\xff"})
    data = verdict.to_dict()
    decoded = json.loads(json.dumps(data))
    assert decoded == data
    assert decoded["detected"] is True
    assert decoded["action"] == "quarantine"
    assert decoded["score"] == 5
    assert decoded["error"] is None
    (match,) = decoded["matches"]
    assert set(match) >= {"signature_id", "title", "category", "severity", "path", "excerpt"}
    assert match["transforms"] == ["url_decode", "html_entity_decode", "lowercase"]


def test_verdict_to_dict_does_not_carry_the_payload(fw: Firewall) -> None:
    secret = "sk_live_0123456789abcdefSECRET"
    payload = secret + " " + "x" * 2000 + SCRIPT
    text = json.dumps(fw.inspect(payload).to_dict())
    assert secret not in text
    assert "x" * 100 not in text


def test_error_verdict_to_dict(good: Path) -> None:
    verdict = Firewall.load(good, limits=Limits(record_budget=0.0)).inspect(SCRIPT)
    data = json.loads(json.dumps(verdict.to_dict()))
    assert data["error"]
    assert data["action"] == "quarantine"


def test_a_prepared_batch_gets_the_verdicts_its_records_get_alone(bundled: Firewall) -> None:
    """`inspect_event` does the prefilter for all records at once; every record's verdict must be
    the one it gets judged alone, on every sample event."""
    from firewall.sources import parse_event

    events = Path(__file__).resolve().parent.parent / "events"
    checked = 0
    for path in sorted(events.glob("*.json")):
        event = json.loads(path.read_text())
        together = bundled.inspect_event(event)
        alone = [bundled.inspect_record(record) for record in parse_event(event).records]
        assert [v.to_dict() for v in together] == [v.to_dict() for v in alone], path.name
        checked += len(alone)
    assert checked >= 20


def test_a_property_path_given_as_a_list_is_quarantined(bundled: Firewall, sqs_event: SqsEvent) -> None:
    """Prototype pollution through a set-path list, in an SQS body and in a DynamoDB item: each
    member alone is a harmless word."""
    body = json.dumps({"op": "set", "path": ["constructor", "prototype", "isAdmin"], "value": True})
    stream = {
        "Records": [
            {
                "eventID": "1",
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "Keys": {"pk": {"S": "pref#1"}},
                    "NewImage": {
                        "pk": {"S": "pref#1"},
                        "path": {"L": [{"S": "constructor"}, {"S": "prototype"}, {"S": "x"}]},
                    },
                },
            }
        ]
    }
    for event, path in ((sqs_event(body), "sqs.body.path"), (stream, "dynamodb.NewImage.path")):
        (verdict,) = bundled.inspect_event(event)
        assert verdict.action == "quarantine"
        assert any(m.signature_id == "FW-PROTO-002" and m.path == path for m in verdict.matches), verdict.matches
    tags = {"tags": ["javascript", "constructor", "prototype"], "related": ["prototype", "constructor"]}
    (benign,) = bundled.inspect_event(sqs_event(json.dumps(tags)))
    assert benign.action == "forward", benign.matches
