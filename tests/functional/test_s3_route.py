"""S3 routes, direct (asynchronous invoke) and through SQS, with real objects in a moto bucket."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.session
import pytest
from fw_functional import (
    EICAR,
    ELF_HEADER,
    QUARANTINE,
    Account,
    Harness,
    Notifications,
    check_envelope,
    gz,
    object_copy,
    record_ids,
)

from firewall.runtime.processor import RetryEvent
from firewall.runtime.quarantine import QuarantineStore, takes_parameter

JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\x00\x80\xc0\xe0\xf0" * 200
    + b"\xff\xd9"
)
CLEAN = {
    "docs/quarterly report.txt": b"Quarterly report attached. Revenue grew 4% on the north region.\n",
    "data/order-1001.json": json.dumps({"orderId": "A-1001", "items": [{"sku": "book-42", "qty": 1}]}).encode(),
    "data/sales.csv": b"region,total,status\nnorth,1200,shipped\nsouth,-800,refund\n",
    "logs/app.log.gz": gz(b"INFO service started\nINFO GET /orders 200\n"),
    "photos/cat.jpg": JPEG,
    "docs/empty.txt": b"",
}
MALICIOUS = {
    "uploads/eicar.txt": EICAR.encode(),
    "uploads/invoice.csv": b"customer,amount,notes\nacme,100,\"=cmd|' /C calc'!A0\"\n",
    "uploads/holiday.jpg": ELF_HEADER + b"\x00" * 120,
    "uploads/comments.json.gz": gz(json.dumps({"comment": "1' UNION SELECT username, password FROM users--"}).encode()),
    "uploads/<script>alert(1)</script>.txt": b"an innocent body behind a hostile name\n",
}
BUCKET = "customer-uploads"


@pytest.fixture
def uploads(aws: Account) -> Notifications:
    """A source bucket holding the clean and malicious objects; what S3 notified for each."""
    aws.bucket(BUCKET)
    return aws.s3_notifications(BUCKET, CLEAN | MALICIOUS)


def s3_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


# -- S3 direct -----------------------------------------------------------------------------------


def test_clean_objects_are_forwarded_unchanged(make_firewall: Callable[..., Harness], uploads: Notifications) -> None:
    fw = make_firewall()
    clean = [uploads.record(key) for key in CLEAN]
    for record in clean:  # S3 invokes a function with one record per event
        assert fw.handle(s3_event(record)) == {"forwarded": 1, "quarantined": 0}
    assert fw.handle(s3_event(*clean)) == {"forwarded": len(clean), "quarantined": 0}

    assert [i.invocation_type for i in fw.targets.invocations] == ["Event"] * (len(clean) + 1)
    assert fw.target.events[: len(clean)] == [s3_event(record) for record in clean]
    assert fw.target.events[-1] == s3_event(*clean), "same event shape, records verbatim and in order"
    assert [line["outcome"] for line in fw.record_lines()] == ["forwarded"] * (2 * len(clean))


@pytest.mark.parametrize("key", list(MALICIOUS))
def test_malicious_object_is_quarantined_with_a_copy_and_not_forwarded(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications, key: str
) -> None:
    fw = make_firewall()
    record = uploads.record(key)
    assert fw.handle(s3_event(record)) == {"forwarded": 0, "quarantined": 1}
    assert fw.targets.invocations == []

    (record_id,) = record_ids(s3_event(record))
    envelope_key, envelope = check_envelope(
        aws, fw, record, source="s3", record_id=record_id, source_arn=f"arn:aws:s3:::{BUCKET}"
    )
    assert object_copy(aws, envelope_key) == MALICIOUS[key], "the object is copied beside its envelope"
    assert envelope["objects"] == [
        {"bucket": BUCKET, "key": key, "version_id": None, "copy_key": envelope_key.removesuffix(".json") + ".object"}
    ]
    paths = {match["path"] for match in envelope["verdict"]["matches"]}
    assert paths and all(path == "s3.key" or path.startswith("s3.object") for path in paths), paths


def test_mixed_event_forwards_only_the_clean_records(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    fw = make_firewall()
    event = s3_event(*uploads.records)  # clean and malicious interleaved as the bucket notified them
    assert fw.handle(event) == {"forwarded": len(CLEAN), "quarantined": len(MALICIOUS)}
    assert fw.target.events == [s3_event(*(uploads.record(key) for key in CLEAN))]
    quarantined = {key for key in aws.quarantine_keys() if key.endswith(".json")}
    assert len(quarantined) == len(MALICIOUS)
    outcomes = {line["record_id"]: line["outcome"] for line in fw.record_lines()}
    ids = record_ids(event)
    assert [outcomes[i] for i in ids] == ["forwarded"] * len(CLEAN) + ["quarantined"] * len(MALICIOUS)


def test_quarantine_write_failure_raises_so_the_event_is_retried_and_nothing_is_lost(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    fw = make_firewall(quarantine=False)  # the quarantine bucket does not exist (yet)
    event = s3_event(uploads.record("data/sales.csv"), uploads.record("uploads/eicar.txt"))
    with pytest.raises(RetryEvent) as raised:
        fw.handle(event)
    message = str(raised.value)
    assert "eicar" not in message.lower() and "sales" not in message and "Traceback" not in message
    assert fw.targets.invocations == [], "nothing is forwarded while a record of the event is unsettled"
    reasons = {line["reason"] for line in fw.record_lines()}
    assert "quarantine write failed (NoSuchBucket)" in reasons

    aws.quarantine_bucket()  # the bucket is back: Lambda's retry of the same event settles it
    for _ in range(2):  # a second redelivery finds the same envelope written (deterministic key)
        assert fw.handle(event) == {"forwarded": 1, "quarantined": 1}
    assert fw.target.records == [uploads.record("data/sales.csv")] * 2
    assert len([k for k in aws.quarantine_keys() if k.endswith(".json")]) == 1


def test_redelivered_record_keeps_its_first_object_copy_and_review_status(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    """An unversioned bucket's object replaced before S3 delivers its record again: the copy taken
    at the first delivery stays, as does what a reviewer set on it. S3 refuses a copy sent with
    `If-None-Match: *` onto an existing key (412 PreconditionFailed); moto 5.2.5 honours that
    header on PutObject only, so this answers for S3 where the header is sent and the key exists."""
    fw = make_firewall()
    key = "uploads/invoice.csv"
    record = uploads.record(key)
    assert fw.handle(s3_event(record)) == {"forwarded": 0, "quarantined": 1}
    (envelope_key,) = [k for k in aws.quarantine_keys() if k.endswith(".json")]
    copy_key = envelope_key.removesuffix(".json") + ".object"
    fw.fail_s3(
        "CopyObject",
        lambda request: request["headers"].get("If-None-Match") == "*" and copy_key in aws.quarantine_keys(),
        code="PreconditionFailed",
        status=412,
    )
    reviewed = {"TagSet": [{"Key": "firewall-status", "Value": "released"}]}
    aws.s3.put_object_tagging(Bucket=QUARANTINE, Key=copy_key, Tagging=reviewed)
    aws.s3.put_object(Bucket=BUCKET, Key=key, Body=b"customer,amount\nacme,100,\"=HYPERLINK(1)\"\n")

    assert fw.handle(s3_event(record)) == {"forwarded": 0, "quarantined": 1}
    assert aws.tags(QUARANTINE, copy_key) == {"firewall-status": "released"}
    assert aws.s3.get_object(Bucket=QUARANTINE, Key=copy_key)["Body"].read() == MALICIOUS[key]
    assert sorted(aws.quarantine_keys()) == [envelope_key, copy_key]


def test_copies_fall_back_to_unconditional_where_s3_refuses_the_condition(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 documented 501 Not Implemented for conditional copies before it took them: the record is
    still quarantined with its copy, and later copies are sent without the condition."""
    fw = make_firewall()
    monkeypatch.setattr(fw.processor.quarantine, "_conditional_copies", True)  # the processor is shared
    sent: list[str | None] = []

    def refuse(request: dict[str, Any]) -> bool:
        sent.append(request["headers"].get("If-None-Match"))
        return sent[-1] == "*"

    fw.fail_s3("CopyObject", refuse, code="NotImplemented", status=501)
    for key in ("uploads/eicar.txt", "uploads/holiday.jpg"):
        assert fw.handle(s3_event(uploads.record(key))) == {"forwarded": 0, "quarantined": 1}
    assert sent == ["*", None, None]
    envelopes = [k for k in aws.quarantine_keys() if k.endswith(".json")]
    copied = {object_copy(aws, key) for key in envelopes}
    assert copied == {MALICIOUS["uploads/eicar.txt"], MALICIOUS["uploads/holiday.jpg"]}


def test_copies_are_unconditional_with_an_sdk_that_predates_the_parameter(
    aws: Account,
    make_firewall: Callable[..., Harness],
    uploads: Notifications,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The Lambda runtime's botocore may predate CopyObject's IfNoneMatch (added in 1.41), and would
    refuse the unknown parameter before sending anything: with such a client (a real one, built
    from the S3 model less that parameter) objects are copied as before."""
    model_dir = Path(botocore.__file__).parent / "data" / "s3" / "2006-03-01"
    model = json.loads(gzip.decompress((model_dir / "service-2.json.gz").read_bytes()))
    del model["shapes"]["CopyObjectRequest"]["members"]["IfNoneMatch"]
    (tmp_path / "s3" / "2006-03-01").mkdir(parents=True)
    (tmp_path / "s3" / "2006-03-01" / "service-2.json").write_text(json.dumps(model))
    old = botocore.session.Session()
    old.get_component("data_loader").search_paths.insert(0, str(tmp_path))
    client = boto3.session.Session(botocore_session=old).client("s3")
    assert not takes_parameter(client, "CopyObject", "IfNoneMatch")

    fw = make_firewall()
    store = fw.processor.quarantine
    old_sdk_store = QuarantineStore(
        client, store.bucket, route=store.route, target=store.target, signature_set=store.signature_set
    )
    monkeypatch.setattr(fw.processor, "quarantine", old_sdk_store)
    assert fw.handle(s3_event(uploads.record("uploads/eicar.txt"))) == {"forwarded": 0, "quarantined": 1}
    (envelope,) = [k for k in aws.quarantine_keys() if k.endswith(".json")]
    assert object_copy(aws, envelope) == MALICIOUS["uploads/eicar.txt"]


def test_quarantine_put_error_from_s3_raises_for_a_retry(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    fw = make_firewall()
    fw.fail_s3("PutObject", lambda params: True, code="InternalError", status=500)
    with pytest.raises(RetryEvent):
        fw.handle(s3_event(uploads.record("uploads/holiday.jpg")))
    assert fw.targets.invocations == []
    assert [k for k in aws.quarantine_keys() if k.endswith(".json")] == []


def test_throttled_target_raises_so_the_event_is_retried(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    fw = make_firewall()
    fw.target.throttled()
    event = s3_event(uploads.record("docs/quarterly report.txt"), uploads.record("uploads/eicar.txt"))
    with pytest.raises(RetryEvent) as raised:
        fw.handle(event)
    assert "quarterly" not in str(raised.value)
    assert fw.targets.invocations[0].error == "throttled"
    fw.target.behaviour = None  # the retry succeeds; the quarantined record is written again, once
    assert fw.handle(event) == {"forwarded": 1, "quarantined": 1}
    assert fw.target.records[-1] == uploads.record("docs/quarterly report.txt")
    assert len([k for k in aws.quarantine_keys() if k.endswith(".json")]) == 1


def test_target_raising_after_an_asynchronous_invoke_is_lambdas_to_retry(
    make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    fw = make_firewall()
    fw.target.raises("boom")
    record = uploads.record("data/order-1001.json")
    assert fw.handle(s3_event(record)) == {"forwarded": 1, "quarantined": 0}
    assert fw.targets.invocations[0].invocation_type == "Event"
    assert fw.targets.invocations[0].error == "RuntimeError"


@pytest.mark.parametrize(
    ("settings", "outcome"),
    [
        ({}, "quarantined"),
        ({"on_error": "forward"}, "forwarded"),
        ({"on_oversize": "forward"}, "forwarded"),
        ({"on_error": "forward", "on_oversize": "quarantine"}, "quarantined"),
    ],
)
def test_oversize_object_follows_the_policy(
    aws: Account, make_firewall: Callable[..., Harness], settings: dict[str, str], outcome: str
) -> None:
    big = b"".join(b"line %06d: an ordinary log line of a large export\n" % i for i in range(40_000))
    assert len(big) > 2_000_000
    aws.bucket(BUCKET)
    record = aws.s3_notifications(BUCKET, {"exports/big.log": big}).records[0]
    # A quarter of the default limit keeps the inspected part (and the test) quick.
    fw = make_firewall(max_bytes="262144", **settings)
    response = fw.handle(s3_event(record))
    (line,) = fw.record_lines()
    assert line["outcome"] == outcome
    if outcome == "forwarded":
        assert response == {"forwarded": 1, "quarantined": 0}
        assert fw.target.records == [record]
    else:
        assert response == {"forwarded": 0, "quarantined": 1}
        assert fw.targets.invocations == []
        (record_id,) = record_ids(s3_event(record))
        key, envelope = check_envelope(
            aws, fw, record, source="s3", record_id=record_id, source_arn=f"arn:aws:s3:::{BUCKET}", detected=False
        )
        assert "FIREWALL_MAX_BYTES" in envelope["verdict"]["error"]
        assert object_copy(aws, key) == big, "the whole object is kept, not the inspected part"


@pytest.mark.parametrize(("on_error", "outcome"), [("quarantine", "quarantined"), ("forward", "forwarded")])
def test_malformed_s3_record_follows_the_error_policy(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications, on_error: str, outcome: str
) -> None:
    broken = json.loads(json.dumps(uploads.record("data/sales.csv")))
    del broken["s3"]["object"]["key"]
    fw = make_firewall(on_error=on_error)
    response = fw.handle(s3_event(broken))
    assert [line["outcome"] for line in fw.record_lines()] == [outcome]
    if outcome == "quarantined":
        assert response == {"forwarded": 0, "quarantined": 1}
        (record_id,) = record_ids(s3_event(broken))
        _, envelope = check_envelope(
            aws, fw, broken, source="s3", record_id=record_id, source_arn=f"arn:aws:s3:::{BUCKET}", detected=False
        )
        assert "without s3.bucket.name or s3.object.key" in envelope["verdict"]["error"]
    else:
        assert response == {"forwarded": 1, "quarantined": 0}
        assert fw.target.records == [broken]


def test_s3_test_event_is_tolerated(aws: Account, make_firewall: Callable[..., Harness]) -> None:
    aws.bucket(BUCKET)
    notified = aws.s3_notifications(BUCKET, {"docs/a.txt": b"hello"})
    fw = make_firewall()
    assert fw.handle(notified.test_event) == {"batchItemFailures": []}
    assert fw.targets.invocations == []
    assert aws.quarantine_keys() == []
    # Through SQS the test event is an ordinary message: passed on, neither failed nor quarantined.
    assert fw.handle({"Records": [notified.test_message]}) == {"batchItemFailures": []}
    assert fw.target.records == [notified.test_message]


def test_quarantine_uses_the_routes_kms_key(aws: Account, make_firewall: Callable[..., Harness]) -> None:
    key_arn = aws.kms.create_key(Description="quarantine")["KeyMetadata"]["Arn"]
    aws.bucket(BUCKET)
    record = aws.s3_notifications(BUCKET, {"uploads/eicar.txt": EICAR.encode()}).records[0]
    fw = make_firewall(quarantine_kms_key=key_arn)
    assert fw.handle(s3_event(record)) == {"forwarded": 0, "quarantined": 1}
    keys = aws.quarantine_keys()
    assert len(keys) == 2
    for key in keys:
        head = aws.s3.head_object(Bucket=QUARANTINE, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn


# -- S3 through SQS --------------------------------------------------------------------------------


def test_s3_via_sqs_clean_batch_is_forwarded_unchanged(
    make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    fw = make_firewall()
    messages = [uploads.message(key) for key in CLEAN]
    event = {"Records": messages}
    assert fw.handle(event) == {"batchItemFailures": []}
    assert [i.invocation_type for i in fw.targets.invocations] == ["RequestResponse"]
    assert fw.target.events == [event]


def test_s3_via_sqs_malicious_objects_are_quarantined_with_copies(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    fw = make_firewall()
    event = {"Records": uploads.messages}
    assert fw.handle(event) == {"batchItemFailures": []}
    assert fw.target.events == [{"Records": [uploads.message(key) for key in CLEAN]}]
    for key, content in MALICIOUS.items():
        message = uploads.message(key)
        envelope_key, _ = check_envelope(
            aws, fw, message, source="sqs", record_id=message["messageId"], source_arn=message["eventSourceARN"]
        )
        assert object_copy(aws, envelope_key) == content


def test_s3_via_sqs_object_copy_refused_fails_the_record_without_an_envelope(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    fw = make_firewall()
    outage = fw.fail_s3("CopyObject", lambda params: True, code="AccessDenied", status=403)
    event = {"Records": [uploads.message("uploads/eicar.txt"), uploads.message("data/order-1001.json")]}
    assert fw.handle(event) == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert fw.target.records == [event["Records"][1]]
    assert aws.quarantine_keys() == [], "no envelope without its object"
    outage()
    assert fw.handle({"Records": [event["Records"][0]]}) == {"batchItemFailures": []}
    assert len(aws.quarantine_keys()) == 2


def test_s3_via_sqs_unreadable_object_is_retried_not_forwarded(
    aws: Account, make_firewall: Callable[..., Harness], uploads: Notifications
) -> None:
    fw = make_firewall()
    unreadable = uploads.message("data/sales.csv")

    fw.fail_s3("GetObject", lambda params: "sales.csv" in params["url_path"], code="AccessDenied", status=403)
    event = {"Records": [uploads.message("docs/quarterly report.txt"), unreadable]}
    assert fw.handle(event) == {"batchItemFailures": [{"itemIdentifier": unreadable["messageId"]}]}
    assert fw.target.records == [uploads.message("docs/quarterly report.txt")]
    assert aws.quarantine_keys() == []
    assert any(line.get("reason") == "object unreadable (AccessDenied)" for line in fw.record_lines())
