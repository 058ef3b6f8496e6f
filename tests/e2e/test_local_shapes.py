"""The local account's pure parts, fast: Lambda's event shapes, partial batch responses, the synth
cache key. (The end-to-end run is test_local_account.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from firewall.local import shapes
from firewall.local.deploy import assembly_key
from firewall.local.pollers import batch_failures, s3_identity

QUEUE = "arn:aws:sqs:us-east-1:123456789012:orders"
STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"


def test_sqs_record_has_lambdas_members_and_attribute_form() -> None:
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": '{"a": 1}',
        "MD5OfBody": "x",
        "MD5OfMessageAttributes": "y",
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"},
        "MessageAttributes": {
            "s": {"DataType": "String", "StringValue": "v"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
        },
    }
    record = shapes.sqs_record(message, QUEUE)
    assert record["messageId"] == "m-1" and record["body"] == '{"a": 1}'
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == QUEUE
    assert record["md5OfMessageAttributes"] == "y"
    assert record["messageAttributes"]["s"] == {
        "stringValue": "v",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["b"]["binaryValue"] == "AQI="


def test_stream_record_is_converted_to_lambdas_shape() -> None:
    raw = {
        "eventID": "e",
        "eventName": "INSERT",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC),
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}, "b": {"B": b"\x00"}, "m": {"M": {"x": {"BS": [b"\x01"]}}}},
            "SequenceNumber": "1",
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    record = shapes.stream_record(raw, STREAM)
    assert record["eventVersion"] == "1.1" and record["eventSourceARN"] == STREAM
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1767323045
    assert record["dynamodb"]["NewImage"]["b"] == {"B": "AA=="}
    assert record["dynamodb"]["NewImage"]["m"]["M"]["x"] == {"BS": ["AQ=="]}
    assert isinstance(raw["dynamodb"]["ApproximateCreationDateTime"], datetime), "the input is not changed"


def test_s3_event_is_completed_deterministically() -> None:
    body = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventTime": "2026-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "incoming%2Fa+b%3Bc.txt", "size": 1, "eTag": "e"}},
            }
        ]
    }
    event = shapes.s3_event(body, "message-1")
    record = event["Records"][0]
    assert record["s3"]["object"]["key"] == "incoming/a+b%3Bc.txt", "S3 keeps slashes"
    assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
    assert record["s3"]["object"]["sequencer"] and record["s3"]["bucket"]["ownerIdentity"]
    assert shapes.s3_event(body, "message-1") == event, "a redelivery carries the same event"
    assert "sequencer" not in body["Records"][0]["s3"]["object"], "the input is not changed"
    assert s3_identity(record).startswith("b/incoming/a b;c.txt@")


def test_s3_test_event_is_recognised() -> None:
    assert shapes.is_s3_test_event({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    assert not shapes.is_s3_test_event({"Records": []})


def test_partial_batch_responses_follow_lambdas_rules() -> None:
    ids = ["a", "b"]
    assert batch_failures(None, ids) == []
    assert batch_failures({"processed": 2}, ids) == []
    assert batch_failures({"batchItemFailures": []}, ids) == []
    assert batch_failures({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids) == ["b"]
    assert batch_failures({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ids) is None, "unknown id: all fail"
    assert batch_failures({"batchItemFailures": [{}]}, ids) is None
    assert batch_failures("nonsense", ids) is None


def test_async_failure_record_names_the_request() -> None:
    record = shapes.async_failure({"Records": []}, "arn:aws:lambda:us-east-1:1:function:f", "RetryEvent: x", 3)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorType"] == "RetryEvent"
    json.dumps(record)


def test_assembly_key_changes_with_the_apps_inputs(tmp_path: Path) -> None:
    for name in ("app.py", "cdk.json", "firewall.yaml"):
        (tmp_path / name).write_text(name)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.py").write_text("a")
    (tmp_path / "firewall" / "local").mkdir(parents=True)
    (tmp_path / "firewall" / "local" / "x.py").write_text("runner")
    first = assembly_key(tmp_path, None)
    assert assembly_key(tmp_path, None) == first
    (tmp_path / "firewall" / "local" / "x.py").write_text("the runner is not part of the app")
    assert assembly_key(tmp_path, None) == first
    (tmp_path / "infra" / "stack.py").write_text("b")
    assert assembly_key(tmp_path, None) != first
