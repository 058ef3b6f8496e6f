"""Lambda's event shapes, built from what the local account's APIs return.

Lambda's pollers do not hand functions the API responses: an SQS record has camel-cased members
and its own message-attribute form, a DynamoDB stream record carries its stream ARN, event version
1.1 and an epoch creation time, and an S3 notification names its requester and sequencer (moto's
lack these). These functions produce the shapes AWS documents, so the firewall judges exactly what
it would in an AWS account.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from .deploy import ACCOUNT, REGION

# -- SQS ------------------------------------------------------------------------------------------


def sqs_record(message: dict[str, Any], queue_arn: str, region: str = REGION) -> dict[str, Any]:
    """One SQS message (ReceiveMessage with every attribute) as a record of Lambda's SQS event."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", hashlib.md5(message.get("Body", "").encode()).hexdigest()),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    return attribute


# -- DynamoDB streams -----------------------------------------------------------------------------


def stream_record(record: dict[str, Any], stream_arn: str, region: str = REGION) -> dict[str, Any]:
    """A GetRecords record as Lambda delivers it: `eventSourceARN`, eventVersion 1.1, the creation
    time in epoch seconds, and binary attributes in base64 (as in DynamoDB's JSON)."""
    data = dict(record["dynamodb"])
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = int(created.timestamp())
    for image in ("Keys", "NewImage", "OldImage"):
        if image in data:
            data[image] = attribute_json(data[image])
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": data,
        "eventSourceARN": stream_arn,
    }


def attribute_json(value: Any) -> Any:
    """Typed DynamoDB values with bytes (as boto3 returns `B` and `BS`) in base64 strings."""
    if isinstance(value, bytes | bytearray):
        return _base64(bytes(value))
    if isinstance(value, dict):
        return {key: attribute_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [attribute_json(item) for item in value]
    return value


def stream_failure(
    batch: list[dict[str, Any]], shard_id: str, stream_arn: str, function_arn: str, condition: str, attempts: int
) -> dict[str, Any]:
    """What Lambda sends a stream mapping's on-failure destination: the batch's coordinates."""
    first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
    return {
        "requestContext": {
            "requestId": _uid(first["SequenceNumber"], function_arn),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": _now_iso(),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
            "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
            "batchSize": len(batch),
            "streamArn": stream_arn,
        },
    }


# -- S3 -------------------------------------------------------------------------------------------


def is_s3_test_event(body: Any) -> bool:
    return isinstance(body, dict) and body.get("Event") == "s3:TestEvent"


def s3_event(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    """An S3 notification (as moto queues it) completed to the shape S3 sends Lambda.

    Adds what moto leaves out (`userIdentity`, `requestParameters`, `responseElements`, the
    bucket's `ownerIdentity`, the object's `sequencer`) and encodes the key as S3 does (`/` kept).
    The additions derive from the message id, so a retried delivery carries the same event.
    """
    records = []
    for index, original in enumerate(body.get("Records", [])):
        record = json.loads(json.dumps(original))
        seed = f"{message_id}/{index}"
        record.setdefault("userIdentity", {"principalId": f"AWS:AIDA{_hex(seed, 16)}"})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        record.setdefault(
            "responseElements",
            {"x-amz-request-id": _hex(seed + "r", 16), "x-amz-id-2": _b64(seed + "i", 48)},
        )
        s3 = record.setdefault("s3", {})
        s3.setdefault("bucket", {}).setdefault("ownerIdentity", {"principalId": f"A{_hex(ACCOUNT, 13)}"})
        obj = s3.setdefault("object", {})
        if "key" in obj:
            obj["key"] = quote_plus(unquote_plus(obj["key"]), safe="/")
        obj.setdefault("sequencer", _sequencer(record.get("eventTime"), seed))
        records.append(record)
    return {"Records": records}


def async_failure(event: dict[str, Any], function_arn: str, error: str, attempts: int) -> dict[str, Any]:
    """What Lambda sends an asynchronous invocation's on-failure destination."""
    return {
        "version": "1.0",
        "timestamp": _now_iso(),
        "requestContext": {
            "requestId": _uid(json.dumps(event, sort_keys=True), function_arn),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": error[:256], "errorType": error.split(":", 1)[0]},
    }


# -- helpers --------------------------------------------------------------------------------------


def _base64(data: bytes | str) -> str:
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length].upper()


def _b64(seed: str, length: int) -> str:
    return base64.b64encode(hashlib.sha512(seed.encode()).digest()).decode()[:length]


def _uid(*parts: str) -> str:
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def event_time(text: Any) -> float:
    """An S3 event's `eventTime` in epoch seconds (now, if it has none)."""
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def _sequencer(text: Any, seed: str) -> str:
    """Ordered like S3's: later events of a key compare greater (time first, then a tie-breaker)."""
    return f"{int(event_time(text) * 1_000_000):014X}{_hex(seed, 4)}"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso(epoch: Any) -> str | None:
    if isinstance(epoch, int | float):
        return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return None
