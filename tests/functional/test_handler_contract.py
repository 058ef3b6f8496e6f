"""The Lambda entry point as AWS calls it: `firewall.runtime.handler.handler(event, context)`,
configured only by its environment. SNS through the handler, events of unknown shape, what callers
and logs may see, settings checked at cold start, and the audit trail (log lines and EMF metrics)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fw_functional import (
    CLEAN_BODIES,
    EICAR,
    MALICIOUS_BODIES,
    REPO,
    Account,
    Deployed,
    check_envelope,
    object_copy,
)

from firewall.api import Firewall
from firewall.runtime import handler as handler_module
from firewall.runtime.processor import InvalidEvent, RetryEvent
from firewall.runtime.settings import SettingsError

SECRET = "hunter2-card-4111111111111111"


# -- SNS -----------------------------------------------------------------------------------------


def sns_messages() -> list[tuple[str | None, str, dict[str, Any]]]:
    channel = {"channel": {"DataType": "String", "StringValue": "web"}}
    return [
        ("signup", CLEAN_BODIES[3], channel),
        ("comment", MALICIOUS_BODIES[0], channel),
        (None, CLEAN_BODIES[2], {}),
        ("profile", CLEAN_BODIES[0], {"channel": {"DataType": "String", "StringValue": "<svg onload=alert(1)>"}}),
    ]


def test_sns_through_the_handler(aws: Account, deploy: Callable[..., Deployed]) -> None:
    event = aws.sns_event(sns_messages())
    records = event["Records"]
    handler = deploy()
    assert handler(event) == {"forwarded": 2, "quarantined": 2}
    assert [i.invocation_type for i in handler.targets.invocations] == ["Event"]
    assert handler.target.events == [{"Records": [records[0], records[2]]}]
    for record in (records[1], records[3]):
        check_envelope(
            aws,
            handler,
            record,
            source="sns",
            record_id=record["Sns"]["MessageId"],
            source_arn=record["Sns"]["TopicArn"],
        )


def test_sns_carrying_an_s3_notification_reads_and_quarantines_the_object(
    aws: Account, deploy: Callable[..., Deployed]
) -> None:
    aws.bucket("partner-drop")
    notified = aws.s3_notifications("partner-drop", {"inbox/eicar.txt": EICAR.encode(), "inbox/ok.txt": b"fine"})
    event = aws.sns_event([(None, json.dumps({"Records": [record]}), {}) for record in notified.records])
    records = event["Records"]
    handler = deploy()
    assert handler(event) == {"forwarded": 1, "quarantined": 1}
    assert handler.target.records == [records[1]]
    key, _ = check_envelope(
        aws,
        handler,
        records[0],
        source="sns",
        record_id=records[0]["Sns"]["MessageId"],
        source_arn=records[0]["Sns"]["TopicArn"],
    )
    assert object_copy(aws, key) == EICAR.encode()


def test_sns_target_throttled_raises_for_lambdas_retry(aws: Account, deploy: Callable[..., Deployed]) -> None:
    event = aws.sns_event(sns_messages()[:1])
    handler = deploy()
    handler.target.throttled()
    with pytest.raises(RetryEvent) as raised:
        handler(event)
    assert "signup" not in str(raised.value)
    handler.target.raises()  # accepted for asynchronous delivery: the target's own retries apply
    assert handler(event) == {"forwarded": 1, "quarantined": 0}
    assert [i.error for i in handler.targets.invocations] == ["throttled", "RuntimeError"]


def test_s3_quarantine_outage_through_the_handler_raises_retry_without_payload(
    aws: Account, deploy: Callable[..., Deployed]
) -> None:
    aws.bucket("drop-box")
    notified = aws.s3_notifications("drop-box", {f"in/{SECRET}.txt": EICAR.encode()})
    handler = deploy(quarantine_bucket="no-such-quarantine-bucket")
    with pytest.raises(RetryEvent) as raised:
        handler({"Records": notified.records})
    _assert_clean_error(raised.value)
    assert handler.targets.invocations == []


# -- events of unknown shape and errors callers see -----------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"payload": SECRET},
        {"Records": [{"eventSource": "aws:unknown", "body": SECRET}]},
        {"Records": []},
        {"Records": [SECRET]},
        [SECRET],
        SECRET,
        {"Records": [{"eventSource": "aws:sqs", "body": SECRET}, {"eventSource": "aws:s3", "s3": {"key": SECRET}}]},
    ],
    ids=["no-records", "unknown-source", "empty", "string-record", "list", "string", "mixed-sources"],
)
def test_unknown_event_shape_raises_invalid_event_without_payload_text(
    aws: Account, deploy: Callable[..., Deployed], event: Any
) -> None:
    handler = deploy()
    with pytest.raises(InvalidEvent) as raised:
        handler(event)
    _assert_clean_error(raised.value)
    assert handler.targets.invocations == []
    logged = handler.output()
    assert SECRET not in logged
    rejected = [json.loads(line) for line in logged.splitlines() if '"event rejected"' in line]
    assert len(rejected) == 1 and "expected one of" in rejected[0]["reason"], "the log says what was expected"


def _assert_clean_error(error: BaseException) -> None:
    """What the caller (Lambda, then whoever reads the error) sees: no payload, no chained trace."""
    text = str(error)
    assert SECRET not in text and "Traceback" not in text and "File " not in text
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert len(text) < 300


def test_a_bug_while_judging_one_record_does_not_escape(
    aws: Account, deploy: Callable[..., Deployed], monkeypatch: pytest.MonkeyPatch
) -> None:
    event = aws.sqs_event([CLEAN_BODIES[0], CLEAN_BODIES[1]])
    records = event["Records"]
    original = Firewall.inspect_record

    def flaky(self: Firewall, record: Any, memo: Any = None) -> Any:
        if record.record_id == records[1]["messageId"]:
            raise ValueError(f"cannot judge {SECRET}")
        return original(self, record, memo)

    monkeypatch.setattr(Firewall, "inspect_record", flaky)
    handler = deploy()
    assert handler(event) == {"batchItemFailures": []}, "fail closed: the record is quarantined"
    assert handler.target.records == [records[0]]
    logged = handler.output()
    assert SECRET not in logged and "Traceback" not in logged
    assert "inspection failed (ValueError)" in logged


def test_batch_responses_carry_only_record_ids(aws: Account, deploy: Callable[..., Deployed]) -> None:
    event = aws.sqs_event([json.dumps({"card": SECRET}), MALICIOUS_BODIES[0]])
    handler = deploy(quarantine_bucket="no-such-quarantine-bucket")
    handler.target.raises(f"bad card {SECRET}")
    response = handler(event)
    assert response == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}
    assert SECRET not in handler.output()


# -- settings ------------------------------------------------------------------------------------


def test_a_routes_own_signature_set(aws: Account, deploy: Callable[..., Deployed], custom_signatures: Path) -> None:
    leak = json.dumps({"note": "draft roadmap for Project Bluebird attached"})
    event = aws.sqs_event([leak, MALICIOUS_BODIES[0]])
    handler = deploy(signatures=str(custom_signatures))
    assert handler(event) == {"batchItemFailures": []}
    assert handler.target.records == [event["Records"][1]], "only the route's own signatures apply"
    _, envelope = check_envelope(
        aws,
        handler,
        event["Records"][0],
        source="sqs",
        record_id=event["Records"][0]["messageId"],
        source_arn=event["Records"][0]["eventSourceARN"],
    )
    assert {m["signature_id"] for m in envelope["verdict"]["matches"]} == {"FW-ACME-001"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FIREWALL_ROUTE", None),
        ("FIREWALL_TARGET", ""),
        ("FIREWALL_MODE", "block"),
        ("FIREWALL_PARANOIA", "7"),
        ("FIREWALL_ON_ERROR", "ignore"),
        ("FIREWALL_MAX_BYTES", "1MB"),
        ("FIREWALL_MAX_BYTES", "0"),
        ("FIREWALL_TARGTE", "orders-worker"),
        ("FIREWALL_SIGNATURES", "/nonexistent/signatures"),
    ],
)
def test_invalid_settings_fail_the_cold_start_naming_the_variable(
    aws: Account, deploy: Callable[..., Deployed], monkeypatch: pytest.MonkeyPatch, variable: str, value: str | None
) -> None:
    deploy()
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    handler_module.reset()
    with pytest.raises(SettingsError) as raised:
        handler_module.handler({"Records": []}, None)
    assert variable in str(raised.value)


def test_invalid_settings_stop_the_lambda_init_phase(aws: Account) -> None:
    """In Lambda the settings are read at import (the init phase), before any event arrives."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FIREWALL_")}
    env |= {
        "AWS_LAMBDA_FUNCTION_NAME": "event-firewall-orders",
        "FIREWALL_ROUTE": "orders",
        "FIREWALL_TARGET": "orders-worker",
        "FIREWALL_QUARANTINE_BUCKET": "fw-quarantine",
        "FIREWALL_PARANOIA": "9",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-c", "import firewall.runtime.handler"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "SettingsError" in done.stderr and "FIREWALL_PARANOIA must be between 1 and 4, got 9" in done.stderr


# -- audit ---------------------------------------------------------------------------------------


def test_audit_one_json_line_per_record_without_payloads_and_emf_metrics(
    aws: Account, deploy: Callable[..., Deployed]
) -> None:
    hostile = json.dumps(
        {"note": "<script>alert(document.cookie)</script>", "filler": "MARKER-" + "q" * 300, "card": SECRET}
    )
    bodies = [CLEAN_BODIES[0], hostile, json.dumps({"card": SECRET, "note": "thanks"}), MALICIOUS_BODIES[2]]
    event = aws.sqs_event(bodies)
    records = event["Records"]
    handler = deploy()
    handler.output()
    assert handler(event) == {"batchItemFailures": []}
    lines = [json.loads(line) for line in handler.output().splitlines()]

    per_record = [line for line in lines if "record_id" in line]
    assert [line["record_id"] for line in per_record] == [r["messageId"] for r in records], "one line per record"
    assert [line["outcome"] for line in per_record] == ["forwarded", "quarantined", "forwarded", "quarantined"]
    for line in per_record:
        assert line["route"] == "orders" and line["source"] == "sqs"
        text = json.dumps(line)
        assert SECRET not in text and "MARKER-" not in text
        assert all(body not in text for body in bodies)
        assert all(len(match["excerpt"]) <= 64 for match in line["matches"])
    assert per_record[1]["detected"] and per_record[1]["signatures"] and per_record[1]["level"] == "WARNING"

    metrics = [line for line in lines if "_aws" in line]
    totals = next(m for m in metrics if m["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Route"]])
    directive = totals["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "EventFirewall"
    assert {m["Name"] for m in directive["Metrics"]} >= {
        "RecordsInspected",
        "RecordsForwarded",
        "RecordsQuarantined",
        "RecordsFailed",
        "RecordsDetected",
    }
    assert totals["Route"] == "orders"
    assert (totals["RecordsInspected"], totals["RecordsForwarded"], totals["RecordsQuarantined"]) == (4, 2, 2)
    assert (totals["RecordsFailed"], totals["RecordsDetected"]) == (0, 2)
    assert isinstance(totals["_aws"]["Timestamp"], int)
    hits = [m for m in metrics if m["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Route", "SignatureId"]]]
    assert hits and {m["SignatureId"] for m in hits} == set(per_record[1]["signatures"]) | set(
        per_record[3]["signatures"]
    )
    assert len(lines) == len(per_record) + len(metrics), "nothing else is printed"
