"""Runtime parts on their own: reading a target's answer, naming AWS errors, the target's client,
and what a log line may carry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from firewall.engine.excerpt import loggable
from firewall.engine.model import Match, Verdict
from firewall.runtime.audit import Audit
from firewall.runtime.errors import error_code
from firewall.runtime.forwarder import Forwarder, ForwardError, batch_item_failures


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", []),
        (b"null", []),
        (b'"done"', []),
        (b"{}", []),
        (b'{"batchItemFailures": null}', []),
        (b'{"batchItemFailures": []}', []),
        (b'{"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": 7}]}', ["m-2", "7"]),
        (b"not json", None),
        (b'{"batchItemFailures": {"itemIdentifier": "m-2"}}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": null}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
        (b'{"batchItemFailures": [{"ItemIdentifier": "m-2"}]}', None),
        (b'{"batchItemFailures": ["m-2"]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": "m-1"}, {}]}', None),
    ],
)
def test_a_partial_batch_response_is_read_as_lambda_reads_it(payload: bytes, expected: list[str] | None) -> None:
    """None: Lambda fails the whole batch (AWS's partial batch response rules)."""
    assert batch_item_failures(payload) == expected


TIMEOUT = ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")
CLOSED = ConnectionClosedError(endpoint_url="https://lambda.us-east-1.amazonaws.com")
THROTTLED = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "Invoke")


@pytest.mark.parametrize(
    ("exc", "code"),
    [(TIMEOUT, "ReadTimeoutError"), (CLOSED, "ConnectionClosedError"), (THROTTLED, "TooManyRequestsException")],
)
def test_error_code_names_timeouts_and_dropped_connections_too(exc: Exception, code: str) -> None:
    """Their `response` is None: reading it as a dict raised AttributeError out of the handler."""
    assert error_code(exc) == code


class _Failing:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def invoke(self, **_: Any) -> Any:
        raise self.exc


def test_a_target_invoke_that_times_out_fails_its_records_and_raises_nothing() -> None:
    result = Forwarder(_Failing(TIMEOUT), "target").invoke_sync({"Records": []})
    assert not result.ok and result.reason == "invoke failed: ReadTimeoutError"
    with pytest.raises(ForwardError, match="ReadTimeoutError"):
        Forwarder(_Failing(TIMEOUT), "target").invoke_async({"Records": []})


def test_the_target_is_invoked_once_and_waited_for_as_long_as_it_may_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore retried an invoke whose answer came after 30 s: the target ran again on the same
    records while its first run went on."""
    from firewall.runtime.handler import ColdStart
    from firewall.runtime.settings import Settings

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = Settings(route="orders", target="orders-worker", quarantine_bucket="fw-quarantine")
    config = ColdStart(settings).processor().forwarder.client.meta.config
    assert config.read_timeout >= 900
    assert config.retries["total_max_attempts"] == 1


@pytest.mark.parametrize(
    ("text", "kept", "hidden"),
    [
        ("sqs.body.items[3].note", "sqs.body.items[3].note", ""),
        ("sqs.body.wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.x", "sqs.body.wJal….x", "K7MDENG"),
        ("sqs.body.4111 1111 1111 1111", "sqs.body.4111…", "1111 1111"),
        ("JSON nested too deeply at sqs.body." + "Hunter2." * 300, "JSON nested too deeply", "Hunter2." * 40),
        ("a\x00b", "a·b", "\x00"),
    ],
)
def test_loggable_text_keeps_paths_and_cuts_secrets_and_length(text: str, kept: str, hidden: str) -> None:
    logged = loggable(text)
    assert kept in logged and len(logged) <= 241
    assert not hidden or hidden not in logged


def test_an_audit_line_carries_no_secret_from_a_path_or_an_error() -> None:
    """A field path is made of the record's keys: an attacker's key can be a password or a card."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    match = Match("FW-SQLI-001", "UNION", "sqli", "critical", f"sqs.body.{secret}", "1 union select")
    verdict = Verdict(True, "quarantine", 5, (match,), error=f"too deep at sqs.body.{secret}")
    lines: list[str] = []
    Audit("orders", lines.append).record(
        source="sqs", record_id="m-1", verdict=verdict, outcome="quarantined", latency_ms=1.0
    )
    (line,) = lines
    assert secret not in line and json.loads(line)["matches"][0]["path"] == "sqs.body.wJal…"
