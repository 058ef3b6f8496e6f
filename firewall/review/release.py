"""`release`: deliver a quarantined record to its target once, without inspecting it again.

Per source, the target gets what the event source would have given it, holding only this record:

| source | invocation | event |
|---|---|---|
| sqs | synchronous | `{"Records": [record]}`; FIFO: `MessageGroupId` kept, a new `MessageDeduplicationId` |
| dynamodb, kinesis | synchronous | `{"Records": [record]}` |
| s3, sns | asynchronous (`Event`), as those services invoke | `{"Records": [record]}` |
| eventbridge | asynchronous | the event itself |

Before delivering, every S3 object the record names must still exist (the exact version when the
record names one); otherwise the release fails and nothing changes. A synchronous target that raises
(`FunctionError`) or reports the record in `batchItemFailures` fails the release: the envelope stays
as it was and the release may be tried again.

Delivered once, even when two reviewers release at the same moment: before delivering, the releaser
creates a lock object beside the envelope with a conditional write (`IfNoneMatch="*"`), which S3
grants to exactly one writer. The lock says `delivering`, then `delivered`; the envelope is updated
last. A release that finds the lock waits for the other one to finish; a lock left `delivered` by an
interrupted release is completed (recorded) without delivering again; a lock left `delivering` (the
releaser died while invoking) is never overridden automatically, since the target may have run.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..runtime.forwarder import batch_item_failures
from ..runtime.quarantine import STATUS_TAG
from .actions import Clock, Outcome, envelope_problem, iso, utc_now
from .filters import ReviewError
from .store import ReviewStore, Stored, error_code, is_conflict, is_missing, lock_key

SYNC = "RequestResponse"
ASYNC = "Event"
LOCK_ATTEMPTS = 5


@dataclass
class Delivery:
    invocation: str
    event: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    """What the history should say about this delivery (e.g. the new deduplication id)."""


def delivery_for(envelope: dict[str, Any]) -> Delivery:
    """The one-record event a release sends, and how it is sent, from the envelope's source."""
    source = envelope.get("source")
    raw = envelope.get("record")
    if not isinstance(raw, dict):
        raise ReviewError("the envelope holds no record to release")
    record = copy.deepcopy(raw)
    if source == "sqs":
        details: dict[str, Any] = {}
        attributes = record.get("attributes")
        fifo = str(record.get("eventSourceARN", "")).endswith(".fifo")
        if isinstance(attributes, dict) and (fifo or "MessageGroupId" in attributes):
            details["deduplication_id"] = attributes["MessageDeduplicationId"] = f"release-{uuid.uuid4().hex}"
            if "MessageGroupId" in attributes:
                details["message_group_id"] = attributes["MessageGroupId"]
        return Delivery(SYNC, {"Records": [record]}, details)
    if source in ("dynamodb", "kinesis"):
        return Delivery(SYNC, {"Records": [record]})
    if source in ("s3", "sns"):
        return Delivery(ASYNC, {"Records": [record]})
    if source == "eventbridge":
        return Delivery(ASYNC, record)
    raise ReviewError(f"cannot release a record of source {str(source)[:40]!r}")


@dataclass
class Attempt:
    delivered: bool
    detail: str = ""
    certain: bool = True
    """False: the invoke may have reached the target (a timeout); the lock is kept."""


class Releaser:
    def __init__(
        self,
        store: ReviewStore,
        lambda_client: Any,
        *,
        identity: str,
        clock: Clock = utc_now,
        wait_seconds: float = 15.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self.store = store
        self.lambda_client = lambda_client
        self.identity = identity
        self.clock = clock
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds

    def release(self, key: str, reason: str, *, dry_run: bool = False) -> Outcome:
        stored = self.store.read(key)
        record_id = str(stored.envelope.get("record_id", ""))
        settled = _settled(stored)
        if settled is not None:
            return settled
        problem = envelope_problem(key, stored.envelope)
        if problem:
            return Outcome(key, record_id, "failed", problem + "; nothing was delivered")
        delivery = delivery_for(stored.envelope)
        target = stored.envelope.get("target")
        if not isinstance(target, str) or not target:
            return Outcome(key, record_id, "failed", "the envelope names no target function")
        problem = self._objects_problem(stored.envelope)
        if problem:
            return Outcome(key, record_id, "failed", problem + "; nothing was delivered, the envelope is unchanged")
        how = "synchronously" if delivery.invocation == SYNC else "asynchronously"
        if dry_run:
            detail = f"would invoke {target} {how} with {_shape(stored)}"
            existing = self.store.read_lock(key)
            if existing is not None:
                detail = (
                    f"a release by {existing.get('by')} at {existing.get('at')} holds the lock (state "
                    f"{existing.get('state')!r}): it would be waited for, not delivered again"
                )
            return Outcome(key, record_id, "would release", detail)

        lock = {
            "state": "delivering",
            "by": self.identity,
            "at": iso(self.clock()),
            "reason": reason,
            "token": uuid.uuid4().hex,
            "target": target,
            "invocation": delivery.invocation,
            **delivery.details,
        }
        for _ in range(LOCK_ATTEMPTS):
            if self._acquire(stored, lock):
                break
            waited = self._wait(stored)
            if waited is not None:
                return waited
        else:
            return Outcome(key, record_id, "failed", "other releases kept taking the lock; nothing was delivered")
        settled = _settled(self.store.read(key))  # deleted (or released) while this release took the lock
        if settled is not None:
            self.store.delete(lock_key(key))
            return settled
        attempt = self._deliver(target, delivery)
        if not attempt.delivered:
            self._record_attempt(key, lock, attempt)
            if attempt.certain:
                self.store.delete(lock_key(key))
                return Outcome(key, record_id, "failed", f"{attempt.detail}; the record stays pending")
            lock["state"] = "uncertain"
            self._put_lock(stored, lock, conditional=False)
            return Outcome(
                key,
                record_id,
                "failed",
                f"{attempt.detail}; the target may have received the record, "
                f"so it will not be delivered again automatically (lock s3://{self.store.bucket}/"
                f"{lock_key(key)}; remove it after checking the target to allow another release)",
            )
        lock["state"] = "delivered"
        lock["delivered_at"] = iso(self.clock())
        self._put_lock(stored, lock, conditional=False)
        self._record(key, lock)
        return Outcome(key, record_id, "released", f"delivered to {target} {how}")

    # -- checks ------------------------------------------------------------------------------

    def _objects_problem(self, envelope: dict[str, Any]) -> str | None:
        """Why a named S3 object can no longer be released (gone, changed), or None."""
        raw = envelope.get("record") if isinstance(envelope.get("record"), dict) else {}
        for obj in envelope.get("objects") or []:
            bucket, key, version = obj.get("bucket"), obj.get("key"), obj.get("version_id")
            if not bucket or not key:
                continue
            name = f"s3://{bucket}/{key}" + (f" (version {version})" if version else "")
            try:
                head = self.store.s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
            except Exception as exc:
                if is_missing(exc):
                    copy_key = obj.get("copy_key")
                    kept = f" (its quarantined copy is s3://{self.store.bucket}/{copy_key})" if copy_key else ""
                    return f"the object {name} no longer exists{kept}"
                if error_code(exc) is None:
                    raise
                return f"cannot check the object {name}: {error_code(exc)}"
            expected = (raw or {}).get("s3", {}).get("object", {}).get("eTag") if not version else None
            if expected and str(head.get("ETag", "")).strip('"') != str(expected).strip('"'):
                return f"the object {name} was overwritten since it was quarantined (its ETag changed)"
        return None

    # -- the lock ----------------------------------------------------------------------------

    def _put_lock(self, stored: Stored, lock: dict[str, Any], *, conditional: bool) -> bool:
        extra = {"IfNoneMatch": "*"} if conditional else {}
        try:
            self.store.s3.put_object(
                Bucket=self.store.bucket,
                Key=lock_key(stored.key),
                Body=json.dumps(lock).encode(),
                ContentType="application/json",
                Tagging=f"{STATUS_TAG}=lock",
                **stored.encryption,
                **extra,
            )
        except Exception as exc:
            if conditional and is_conflict(exc):
                return False
            raise
        return True

    def _acquire(self, stored: Stored, lock: dict[str, Any]) -> bool:
        return self._put_lock(stored, lock, conditional=True)

    def _wait(self, stored: Stored) -> Outcome | None:
        """Another release holds the lock: wait until it is done. None: the lock is gone (the other
        release failed), so this one may try to take it."""
        key = stored.key
        record_id = str(stored.envelope.get("record_id", ""))
        deadline = time.monotonic() + self.wait_seconds
        while True:
            settled = _settled(self.store.read(key))
            if settled is not None:
                return settled
            lock = self.store.read_lock(key)
            if lock is None:
                return None
            if lock.get("state") == "delivered":
                self._record(key, lock, completed_by=self.identity)
                return Outcome(
                    key,
                    record_id,
                    "already released",
                    f"delivered by {lock.get('by')} at {lock.get('delivered_at', lock.get('at'))}; "
                    "recorded now, not delivered again",
                )
            if lock.get("state") == "uncertain" or time.monotonic() >= deadline:
                return Outcome(
                    key,
                    record_id,
                    "failed",
                    f"a release by {lock.get('by')} started at {lock.get('at')} has not finished "
                    f"(state {lock.get('state')!r}); nothing was delivered by this one. If it was "
                    f"interrupted, check whether the target received the record, then remove "
                    f"s3://{self.store.bucket}/{lock_key(key)} to allow another release",
                )
            time.sleep(self.poll_seconds)

    # -- delivery and record -----------------------------------------------------------------

    def _deliver(self, target: str, delivery: Delivery) -> Attempt:
        try:
            response = self.lambda_client.invoke(
                FunctionName=target,
                InvocationType=delivery.invocation,
                Payload=json.dumps(delivery.event).encode("utf-8"),
            )
        except Exception as exc:
            code = error_code(exc)
            if code is not None:  # Lambda answered: the target did not run this invoke
                return Attempt(False, f"invoking {target} failed: {code}")
            return Attempt(False, f"invoking {target} failed: {type(exc).__name__}", certain=False)
        payload = response["Payload"].read() if "Payload" in response else b""
        if delivery.invocation == ASYNC:
            if response.get("StatusCode") not in (200, 202):
                return Attempt(False, f"{target} refused the asynchronous invoke (status {response.get('StatusCode')})")
            return Attempt(True)
        if response.get("FunctionError"):
            return Attempt(False, f"{target} raised an error ({response['FunctionError']}{_error_type(payload)})")
        failed = batch_item_failures(payload)
        if failed is None:
            return Attempt(False, f"{target} returned a malformed batchItemFailures (Lambda fails the whole batch)")
        if failed:
            return Attempt(False, f"{target} reported the record as failed (batchItemFailures)")
        return Attempt(True)

    def _record_attempt(self, key: str, lock: dict[str, Any], attempt: Attempt) -> None:
        """A failed delivery in the envelope's history (the status stays pending): who tried, when,
        why, and whether the target may have received the record after all."""
        entry = {
            "action": "release failed",
            "by": lock.get("by", self.identity),
            "at": iso(self.clock()),
            "reason": lock.get("reason", ""),
            "target": lock.get("target"),
            "detail": attempt.detail,
            "target_may_have_received": not attempt.certain,
        }

        def change(envelope: dict[str, Any]) -> dict[str, Any]:
            envelope.setdefault("history", []).append(entry)
            return envelope

        self.store.update(key, change)

    def _record(self, key: str, lock: dict[str, Any], *, completed_by: str | None = None) -> None:
        kept = ("target", "invocation", "deduplication_id", "message_group_id")
        details: dict[str, Any] = {k: lock[k] for k in kept if k in lock}
        if completed_by is not None:
            details["recorded_by"] = completed_by
        entry = {
            "action": "release",
            "by": lock.get("by", self.identity),
            "at": lock.get("delivered_at", lock.get("at", iso(self.clock()))),
            "reason": lock.get("reason", ""),
            **details,
        }

        def change(envelope: dict[str, Any]) -> dict[str, Any] | None:
            history = envelope.setdefault("history", [])
            if any(isinstance(h, dict) and h.get("action") == "release" for h in history) and (
                envelope.get("status") in ("released", "deleted")
            ):
                return None
            history.append(entry)
            if envelope.get("status") != "deleted":
                envelope["status"] = "released"
            return envelope

        updated = self.store.update(key, change)
        for obj in updated.envelope.get("objects") or []:
            if obj.get("copy_key") and updated.status == "released":
                self.store.tag_status(str(obj["copy_key"]), "released")


def _settled(stored: Stored) -> Outcome | None:
    """The outcome when the envelope needs no release: released already, or deleted."""
    record_id = str(stored.envelope.get("record_id", ""))
    history = [h for h in stored.envelope.get("history") or [] if isinstance(h, dict)]
    if stored.status == "released":
        last = next((h for h in reversed(history) if h.get("action") == "release"), {})
        return Outcome(stored.key, record_id, "already released", f"by {last.get('by')} at {last.get('at')}")
    if stored.status == "deleted":
        return Outcome(stored.key, record_id, "failed", "the record was deleted; a deleted record cannot be released")
    return None


def _shape(stored: Stored) -> str:
    source = stored.envelope.get("source")
    return "the EventBridge event" if source == "eventbridge" else f"a one-record {source} event"


def _error_type(payload: bytes) -> str:
    """The target's error type (never its message, which may echo the payload)."""
    try:
        body = json.loads(payload or b"null")
    except (ValueError, RecursionError):
        return ""
    kind = body.get("errorType") if isinstance(body, dict) else None
    return f": {str(kind)[:60]}" if kind else ""
