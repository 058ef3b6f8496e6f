"""Delivering clean records to the target function, in the event shape it already expects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import error_code

MAX_SYNC_PAYLOAD = 5_800_000
"""Lambda accepts 6 MB for a synchronous invoke; events larger than this are sent in parts."""


class ForwardError(Exception):
    """The target could not be invoked (throttled, unreachable, payload refused). No payload text."""


@dataclass
class InvokeResult:
    ok: bool
    """False: the target failed as a whole (FunctionError, throttle, error): every record failed."""
    failed_ids: list[str] = field(default_factory=list)
    """itemIdentifiers the target itself reported in `batchItemFailures`."""
    reason: str | None = None


class Forwarder:
    def __init__(self, lambda_client: Any, target: str) -> None:
        self.client = lambda_client
        self.target = target

    def invoke_sync(self, event: dict[str, Any]) -> InvokeResult:
        """RequestResponse invoke; the target's partial batch response is passed back."""
        try:
            response = self.client.invoke(
                FunctionName=self.target,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode("utf-8"),
            )
        except Exception as exc:
            return InvokeResult(False, reason=f"invoke failed: {error_code(exc)}")
        payload = response["Payload"].read() if "Payload" in response else b""
        if response.get("FunctionError"):
            return InvokeResult(False, reason=f"target raised ({response['FunctionError']})")
        failed = batch_item_failures(payload)
        if failed is None:
            return InvokeResult(False, reason="target returned a malformed batchItemFailures: the batch failed")
        return InvokeResult(True, failed_ids=failed)

    def invoke_async(self, event: dict[str, Any]) -> None:
        """Event invoke, as S3 and SNS invoke functions; raises ForwardError so Lambda retries."""
        try:
            response = self.client.invoke(
                FunctionName=self.target,
                InvocationType="Event",
                Payload=json.dumps(event).encode("utf-8"),
            )
        except Exception as exc:
            raise ForwardError(f"asynchronous invoke of the target failed: {error_code(exc)}") from None
        if response.get("StatusCode") not in (202, 200):
            raise ForwardError(f"asynchronous invoke returned status {response.get('StatusCode')}")


def batch_item_failures(payload: bytes) -> list[str] | None:
    """The ids in `{"batchItemFailures": [{"itemIdentifier": ...}]}`, read as Lambda reads a partial
    batch response; None when Lambda would fail the whole batch. A plain return value, an empty
    object or a null or empty list mean every record succeeded. A response that is not JSON, a
    list that is not one, or an entry without a non-empty `itemIdentifier` (null, "", a misspelt
    key) fail them all: taking those for success would delete records the target asked back."""
    try:
        body = json.loads(payload or b"null")
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or body.get("batchItemFailures") is None:
        return []
    entries = body["batchItemFailures"]
    if not isinstance(entries, list):
        return None
    ids = []
    for entry in entries:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if identifier is None or identifier == "" or isinstance(identifier, dict | list):
            return None
        ids.append(str(identifier))
    return ids


def split_by_size(records: list[dict[str, Any]], limit: int = MAX_SYNC_PAYLOAD) -> list[list[dict[str, Any]]]:
    """Consecutive groups of raw records whose JSON fits one synchronous invoke."""
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for record in records:
        record_size = len(json.dumps(record)) + 2
        if current and size + record_size > limit:
            parts.append(current)
            current, size = [], 0
        current.append(record)
        size += record_size
    if current:
        parts.append(current)
    return parts
