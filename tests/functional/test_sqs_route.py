"""SQS routes (standard and FIFO) with real messages: sent to a moto queue, received as Lambda's
poller receives them, judged, forwarded, quarantined or failed per ReportBatchItemFailures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fw_functional import (
    CLEAN_BODIES,
    MALICIOUS_BODIES,
    Account,
    Context,
    Harness,
    check_envelope,
    sent_date,
)

TENANT = {"tenant": {"DataType": "String", "StringValue": "acme"}}
HOSTILE_ATTRIBUTE = {"comment": {"DataType": "String", "StringValue": "<img src=x onerror=alert(document.domain)>"}}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["messageId"] for record in records]


def failures(*records: dict[str, Any]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]} for record in records]}


# -- standard queues -----------------------------------------------------------------------------


def test_clean_batch_is_forwarded_unchanged(aws: Account, make_firewall: Callable[..., Harness]) -> None:
    event = aws.sqs_event(CLEAN_BODIES, attributes=[TENANT] * len(CLEAN_BODIES))
    fw = make_firewall()
    assert fw.handle(event) == {"batchItemFailures": []}
    assert [i.invocation_type for i in fw.targets.invocations] == ["RequestResponse"]
    assert fw.target.events == [event], "one synchronous invoke: same event shape, records verbatim"
    assert aws.quarantine_keys() == []


def test_malicious_messages_are_quarantined_and_not_forwarded(
    aws: Account, make_firewall: Callable[..., Harness]
) -> None:
    bodies = [*MALICIOUS_BODIES, CLEAN_BODIES[0]]
    event = aws.sqs_event(bodies, attributes=[{}] * len(MALICIOUS_BODIES) + [HOSTILE_ATTRIBUTE])
    fw = make_firewall()
    assert fw.handle(event) == {"batchItemFailures": []}, "a quarantined record is a success"
    assert fw.targets.invocations == []
    for record in event["Records"]:
        _, envelope = check_envelope(
            aws, fw, record, source="sqs", record_id=record["messageId"], source_arn=record["eventSourceARN"]
        )
        assert envelope["objects"] == []
    paths = [m["path"] for m in envelope["verdict"]["matches"]]
    assert any(path.startswith("sqs.attributes.comment") for path in paths), paths


def test_mixed_batch_forwards_the_clean_records_in_order(aws: Account, make_firewall: Callable[..., Harness]) -> None:
    bodies = [CLEAN_BODIES[0], MALICIOUS_BODIES[0], CLEAN_BODIES[1], MALICIOUS_BODIES[1], CLEAN_BODIES[2]]
    event = aws.sqs_event(bodies)
    records = event["Records"]
    fw = make_firewall()
    assert fw.handle(event) == {"batchItemFailures": []}
    assert fw.target.events == [{"Records": [records[0], records[2], records[4]]}]
    assert sorted(aws.quarantined()) == sorted(
        f"orders/{key}" for key in (_date_key(records[1]), _date_key(records[3]))
    )


def _date_key(record: dict[str, Any]) -> str:
    return f"{sent_date(record)}/sqs/{record['messageId']}.json"


def test_targets_partial_failures_are_passed_back(aws: Account, make_firewall: Callable[..., Harness]) -> None:
    event = aws.sqs_event([CLEAN_BODIES[0], MALICIOUS_BODIES[0], CLEAN_BODIES[1], CLEAN_BODIES[2]])
    records = event["Records"]
    fw = make_firewall()
    fw.target.fails([records[2]["messageId"]])
    assert fw.handle(event) == failures(records[2])
    outcomes = [line["outcome"] for line in fw.record_lines()]
    assert outcomes == ["forwarded", "quarantined", "failed", "forwarded"]


def test_target_reporting_ids_it_was_not_given_fails_every_forwarded_record(
    aws: Account, make_firewall: Callable[..., Harness]
) -> None:
    event = aws.sqs_event([CLEAN_BODIES[0], MALICIOUS_BODIES[2], CLEAN_BODIES[1]])
    records = event["Records"]
    fw = make_firewall()
    fw.target.fails(["not-a-message-of-this-batch"])
    assert fw.handle(event) == failures(records[0], records[2])


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"ItemIdentifier": "misspelt"}]},
        {"batchItemFailures": ["a bare id"]},
        {"batchItemFailures": {"itemIdentifier": "not in a list"}},
    ],
)
def test_a_partial_response_lambda_would_reject_fails_every_forwarded_record(
    aws: Account, make_firewall: Callable[..., Harness], response: dict[str, Any]
) -> None:
    """Lambda fails a whole batch whose response has a null, empty or misspelt itemIdentifier;
    taken for success, the records the target asked back would be deleted from the queue."""
    event = aws.sqs_event([CLEAN_BODIES[0], MALICIOUS_BODIES[0], CLEAN_BODIES[1]])
    records = event["Records"]
    fw = make_firewall()
    fw.target.behaviour = lambda _event: response
    assert fw.handle(event) == failures(records[0], records[2])
    reasons = {line.get("reason") for line in fw.record_lines()}
    assert "target returned a malformed batchItemFailures: the batch failed" in reasons


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}, "done"])
def test_responses_lambda_takes_for_success_forward_every_record(
    aws: Account, make_firewall: Callable[..., Harness], response: Any
) -> None:
    event = aws.sqs_event([CLEAN_BODIES[0], CLEAN_BODIES[1]])
    fw = make_firewall()
    fw.target.behaviour = lambda _event: response
    assert fw.handle(event) == {"batchItemFailures": []}


def test_no_forward_is_started_without_time_left_for_the_target(
    aws: Account, make_firewall: Callable[..., Harness]
) -> None:
    """Killed while it waits for the target, the firewall answers for none of the batch: AWS would
    deliver every record again, those the target took included. The quarantine is still written."""
    event = aws.sqs_event([CLEAN_BODIES[0], MALICIOUS_BODIES[0], CLEAN_BODIES[1]])
    records = event["Records"]
    fw = make_firewall(target_timeout_ms="30000")
    response = fw.processor.handle(json.loads(json.dumps(event)), Context(remaining_ms=25_000))
    assert response == failures(records[0], records[2])
    assert fw.targets.invocations == [] and len(aws.quarantined()) == 1
    assert {line.get("reason") for line in fw.record_lines()} >= {"too little time left to wait for the target"}
    fw.processor.handle(json.loads(json.dumps(event)), Context(remaining_ms=40_000))
    assert fw.target.records == [records[0], records[2]]


def test_a_record_delivered_again_keeps_its_envelope_and_its_review(
    aws: Account, make_firewall: Callable[..., Harness]
) -> None:
    """The envelope key is the record's own: a second delivery must not overwrite the first
    envelope, its evidence or the review state an operator gave it."""
    event = aws.sqs_event([MALICIOUS_BODIES[1], CLEAN_BODIES[0]])
    fw = make_firewall()
    assert fw.handle(event) == {"batchItemFailures": []}
    ((key, envelope),) = aws.quarantined().items()
    envelope["status"], envelope["history"] = "released", [{"action": "release", "by": "reviewer"}]
    aws.s3.put_object(Bucket="fw-quarantine", Key=key, Body=json.dumps(envelope).encode())
    assert fw.handle(event) == {"batchItemFailures": []}
    assert aws.quarantined()[key]["status"] == "released"
    assert aws.quarantined()[key]["history"] == [{"action": "release", "by": "reviewer"}]


def test_target_raising_fails_every_forwarded_record(aws: Account, make_firewall: Callable[..., Harness]) -> None:
    event = aws.sqs_event([CLEAN_BODIES[0], MALICIOUS_BODIES[0], CLEAN_BODIES[3]])
    records = event["Records"]
    fw = make_firewall()
    fw.target.raises(f"could not process {records[0]['body']}")  # the target's error echoes a payload
    assert fw.handle(event) == failures(records[0], records[2])
    assert fw.targets.invocations[0].error == "RuntimeError"
    check_envelope(aws, fw, records[1], source="sqs", record_id=records[1]["messageId"], source_arn=_arn(records))
    reasons = {line.get("reason") for line in fw.record_lines()}
    assert "target raised (Unhandled)" in reasons
    assert "A-1001" not in "\n".join(fw.log), "the target's error text (with payload) is not logged"


def _arn(records: list[dict[str, Any]]) -> str:
    return str(records[0]["eventSourceARN"])


def test_throttled_target_fails_every_forwarded_record(aws: Account, make_firewall: Callable[..., Harness]) -> None:
    event = aws.sqs_event([CLEAN_BODIES[0], CLEAN_BODIES[1], MALICIOUS_BODIES[1]])
    records = event["Records"]
    fw = make_firewall()
    fw.target.throttled()
    assert fw.handle(event) == failures(records[0], records[1])
    assert fw.targets.invocations[0].error == "throttled"
    assert {line.get("reason") for line in fw.record_lines()} >= {"invoke failed: TooManyRequestsException"}
    assert len(aws.quarantined()) == 1


def test_missing_quarantine_bucket_fails_the_malicious_records_only(
    aws: Account, make_firewall: Callable[..., Harness]
) -> None:
    event = aws.sqs_event([CLEAN_BODIES[0], MALICIOUS_BODIES[0], CLEAN_BODIES[1]])
    records = event["Records"]
    fw = make_firewall(quarantine=False)
    assert fw.handle(event) == failures(records[1]), "retried by SQS, never dropped"
    assert fw.target.records == [records[0], records[2]], "and never forwarded"
    assert any(line.get("reason") == "quarantine write failed (NoSuchBucket)" for line in fw.record_lines())

    aws.quarantine_bucket()  # SQS delivers the failed message again: now it is quarantined
    assert fw.handle({"Records": [records[1]]}) == {"batchItemFailures": []}
    check_envelope(aws, fw, records[1], source="sqs", record_id=records[1]["messageId"], source_arn=_arn(records))
    assert fw.target.records == [records[0], records[2]]


def test_quarantine_put_error_fails_that_record_only(aws: Account, make_firewall: Callable[..., Harness]) -> None:
    event = aws.sqs_event([MALICIOUS_BODIES[0], CLEAN_BODIES[0], MALICIOUS_BODIES[1]])
    records = event["Records"]
    fw = make_firewall()
    unlucky = records[2]["messageId"]
    fw.fail_s3("PutObject", lambda params: unlucky in params["url_path"])
    assert fw.handle(event) == failures(records[2])
    assert fw.target.records == [records[1]]
    assert [key.rsplit("/", 1)[1] for key in aws.quarantine_keys()] == [records[0]["messageId"] + ".json"]


@pytest.mark.parametrize(
    ("settings", "outcome"),
    [({}, "quarantined"), ({"on_oversize": "forward"}, "forwarded"), ({"on_error": "forward"}, "forwarded")],
)
def test_oversize_message_follows_the_policy(
    aws: Account, make_firewall: Callable[..., Harness], settings: dict[str, str], outcome: str
) -> None:
    large = json.dumps({"orderId": "A-9000", "lines": [f"item {i}: notebook, blue, A5" for i in range(400)]})
    event = aws.sqs_event([CLEAN_BODIES[0], large])
    records = event["Records"]
    fw = make_firewall(max_bytes="4096", **settings)
    assert fw.handle(event) == {"batchItemFailures": []}
    assert [line["outcome"] for line in fw.record_lines()] == ["forwarded", outcome]
    if outcome == "quarantined":
        assert fw.target.records == [records[0]]
        _, envelope = check_envelope(
            aws,
            fw,
            records[1],
            source="sqs",
            record_id=records[1]["messageId"],
            source_arn=_arn(records),
            detected=False,
        )
        assert "FIREWALL_MAX_BYTES" in envelope["verdict"]["error"]
    else:
        assert fw.target.records == records


@pytest.mark.parametrize(("on_error", "outcome"), [("quarantine", "quarantined"), ("forward", "forwarded")])
def test_malformed_records_follow_the_error_policy(
    aws: Account, make_firewall: Callable[..., Harness], on_error: str, outcome: str
) -> None:
    too_deep = "[" * 100 + '"x"' + "]" * 100  # a real message the parser cannot open fully
    event = aws.sqs_event([CLEAN_BODIES[0], too_deep, CLEAN_BODIES[1]])
    records = event["Records"]
    broken = dict(records[2], messageId="b7c3a1d2-0000-4000-8000-00000000beef", body=None)  # no body at all
    event["Records"].append(broken)
    fw = make_firewall(on_error=on_error)
    assert fw.handle(event) == {"batchItemFailures": []}
    lines = fw.record_lines()
    assert [line["outcome"] for line in lines] == ["forwarded", outcome, "forwarded", outcome]
    assert all(line.get("inspection_error") for line in (lines[1], lines[3]))
    if outcome == "quarantined":
        assert fw.target.records == [records[0], records[2]]
        for record in (records[1], broken):
            check_envelope(
                aws, fw, record, source="sqs", record_id=record["messageId"], source_arn=_arn(records), detected=False
            )
    else:
        assert fw.target.records == event["Records"]
        assert aws.quarantine_keys() == []


@pytest.mark.parametrize(("on_error", "outcome"), [("quarantine", "quarantined"), ("forward", "forwarded")])
def test_inspection_over_its_time_budget_follows_the_error_policy(
    aws: Account, make_firewall: Callable[..., Harness], on_error: str, outcome: str
) -> None:
    lines = [f"line {i}: <b>bold</b> &amp; 50%25 off, a={i} or b={i}" for i in range(4000)]  # ~240 KB, regex work
    event = aws.sqs_event([json.dumps({"orderId": "A-7000", "lines": lines})])
    fw = make_firewall(budget_ms="10", on_error=on_error)  # the smallest budget the settings accept
    assert fw.handle(event) == {"batchItemFailures": []}
    (logged,) = fw.record_lines()
    assert logged["outcome"] == outcome
    assert "time budget" in logged["inspection_error"]
    assert fw.target.records == (event["Records"] if outcome == "forwarded" else [])


def test_monitor_mode_forwards_everything_but_reports_detections(
    aws: Account, make_firewall: Callable[..., Harness]
) -> None:
    event = aws.sqs_event([CLEAN_BODIES[0], MALICIOUS_BODIES[0]])
    fw = make_firewall(mode="monitor")
    assert fw.handle(event) == {"batchItemFailures": []}
    assert fw.target.events == [event]
    assert aws.quarantine_keys() == []
    detected = [line for line in fw.record_lines() if line["detected"]]
    assert [line["record_id"] for line in detected] == [event["Records"][1]["messageId"]]
    assert detected[0]["level"] == "WARNING" and detected[0]["outcome"] == "forwarded"


# -- FIFO queues ---------------------------------------------------------------------------------


def fifo_event(aws: Account, messages: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Send (name, body) messages whose group is the name's first letter; name -> Lambda record."""
    event = aws.sqs_event([body for _, body in messages], fifo=True, groups=[name[0].upper() for name, _ in messages])
    return dict(zip([name for name, _ in messages], event["Records"], strict=True))


def test_fifo_clean_batch_is_forwarded_unchanged_in_order(aws: Account, make_firewall: Callable[..., Harness]) -> None:
    named = fifo_event(aws, [("a1", CLEAN_BODIES[0]), ("b1", CLEAN_BODIES[1]), ("a2", CLEAN_BODIES[2])])
    fw = make_firewall()
    event = {"Records": list(named.values())}
    assert event["Records"][0]["eventSourceARN"].endswith(".fifo")
    assert event["Records"][0]["attributes"]["MessageGroupId"] == "A"
    assert fw.handle(event) == {"batchItemFailures": []}
    assert fw.target.events == [event]


def test_fifo_failure_fails_every_later_message_of_its_group_only(
    aws: Account, make_firewall: Callable[..., Harness]
) -> None:
    m = fifo_event(
        aws,
        [
            ("a1", CLEAN_BODIES[0]),
            ("b1", CLEAN_BODIES[1]),
            ("a2", CLEAN_BODIES[2]),
            ("b2", MALICIOUS_BODIES[0]),
            ("a3", CLEAN_BODIES[3]),
            ("a4", MALICIOUS_BODIES[1]),
            ("b3", CLEAN_BODIES[0]),
            ("c1", MALICIOUS_BODIES[2]),
        ],
    )
    fw = make_firewall()
    fw.target.fails([m["a2"]["messageId"]])
    assert fw.handle({"Records": list(m.values())}) == failures(m["a2"], m["a3"], m["a4"])
    assert ids(fw.target.records) == ids([m["a1"], m["b1"], m["a2"], m["a3"], m["b3"]])
    for name in ("b2", "c1"):
        check_envelope(aws, fw, m[name], source="sqs", record_id=m[name]["messageId"], source_arn=_arn([m[name]]))

    # FIFO redelivers a2, a3, a4 in order; this time the target accepts them.
    fw.target.behaviour = None
    assert fw.handle({"Records": [m["a2"], m["a3"], m["a4"]]}) == {"batchItemFailures": []}
    assert ids(fw.target.records[-2:]) == ids([m["a2"], m["a3"]])
    assert m["a4"]["messageId"] not in ids(fw.target.records), "a malicious message never reaches the target"


def test_fifo_quarantine_failure_holds_back_the_rest_of_its_group(
    aws: Account, make_firewall: Callable[..., Harness]
) -> None:
    m = fifo_event(
        aws,
        [("a1", MALICIOUS_BODIES[0]), ("b1", CLEAN_BODIES[0]), ("a2", CLEAN_BODIES[1]), ("b2", MALICIOUS_BODIES[1])],
    )
    fw = make_firewall()
    unlucky = m["a1"]["messageId"]
    fw.fail_s3("PutObject", lambda params: unlucky in params["url_path"])
    assert fw.handle({"Records": list(m.values())}) == failures(m["a1"], m["a2"])
    assert ids(fw.target.records) == ids([m["b1"]]), "a2 must wait for a1: it is not forwarded out of order"
    check_envelope(aws, fw, m["b2"], source="sqs", record_id=m["b2"]["messageId"], source_arn=_arn([m["b2"]]))


def test_fifo_target_raising_fails_forwarded_messages_and_their_successors(
    aws: Account, make_firewall: Callable[..., Harness]
) -> None:
    m = fifo_event(
        aws,
        [
            ("a1", CLEAN_BODIES[0]),
            ("b1", MALICIOUS_BODIES[0]),
            ("a2", MALICIOUS_BODIES[1]),
            ("b2", CLEAN_BODIES[1]),
            ("c1", MALICIOUS_BODIES[2]),
        ],
    )
    fw = make_firewall()
    fw.target.raises()
    assert fw.handle({"Records": list(m.values())}) == failures(m["a1"], m["a2"], m["b2"])
    outcomes = {line["record_id"]: line["outcome"] for line in fw.record_lines()}
    assert outcomes[m["b1"]["messageId"]] == "quarantined" and outcomes[m["c1"]["messageId"]] == "quarantined"
