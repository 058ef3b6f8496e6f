"""One invocation of the firewall function: judge every record, then quarantine, forward or fail
each one as DESIGN.md's lossless batch semantics require.

Every record ends in exactly one of three outcomes: forwarded (the target accepted it), quarantined
(its envelope is written), or failed (reported back to AWS, which delivers it again). No exception
escapes because of one record; a whole-event exception is raised only where AWS's retry is the
right answer (asynchronous sources) and never carries payload text.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..api import Firewall
from ..engine.matcher import Memo
from ..engine.model import Verdict
from ..sources import Batch, parse_event, to_event
from ..sources.base import Record
from .audit import Audit
from .errors import error_code
from .forwarder import Forwarder, ForwardError, split_by_size
from .notifier import Notifier
from .objects import ObjectReader
from .quarantine import QuarantineStore
from .settings import Settings

STREAM_SOURCES = ("dynamodb", "kinesis")
BATCH_SOURCES = ("sqs",)
TOO_LARGE = "payload larger than the inspection limit (FIREWALL_MAX_BYTES)"
SAFETY_MARGIN_MS = 2_000
"""Stop judging when the function has less than this left: the rest are failed, not lost."""


class RetryEvent(Exception):
    """Raised for asynchronous sources so that Lambda retries the whole event. Carries counts only."""


class InvalidEvent(Exception):
    """The event has no shape the firewall knows; raised so it is retried and then dead-lettered."""


@dataclass
class Judged:
    record: Record
    verdict: Verdict
    failure: str | None = None
    """Why the record could not be judged (object unreadable, out of time): it must be retried."""
    latency_ms: float = 0.0


def _unjudged(reason: str) -> Verdict:
    return Verdict(detected=False, action="forward", score=0, error=reason)


class Processor:
    def __init__(
        self,
        settings: Settings,
        firewall: Firewall,
        *,
        forwarder: Forwarder,
        quarantine: QuarantineStore,
        reader: ObjectReader,
        audit: Audit,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.firewall = firewall
        self.forwarder = forwarder
        self.quarantine = quarantine
        self.reader = reader
        self.audit = audit
        self.notifier = notifier
        self.clock = clock

    # -- entry point -------------------------------------------------------------------------

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        try:
            batch = parse_event(event, include_old_image=self.settings.include_old_image)
        except ValueError as exc:
            self.audit.event("ERROR", "event rejected", reason=str(exc)[:500])
            self.audit.flush()
            raise InvalidEvent("the event has no shape the firewall recognises; see the function's log") from None
        if batch.test_event:
            self.audit.event("INFO", "s3:TestEvent ignored")
            return {"batchItemFailures": []}
        try:
            judged = self._judge_all(batch, context)
            if batch.source in STREAM_SOURCES:
                return self._stream(batch, judged, context)
            if batch.source in BATCH_SOURCES:
                return self._queue(batch, judged, context)
            return self._asynchronous(batch, judged)
        finally:
            if self.notifier is not None:
                for problem in self.notifier.flush():
                    self.audit.event("WARNING", problem)
            self.audit.flush()

    # -- judging -----------------------------------------------------------------------------

    def _judge_all(self, batch: Batch, context: Any) -> list[Judged]:
        judged = []
        memo = self.firewall.prepare(r for r in batch.records if _raw_size(r) <= self.settings.max_bytes)
        for record in batch.records:
            if _remaining_ms(context) < SAFETY_MARGIN_MS:
                judged.append(Judged(record, _unjudged("function time nearly spent"), "out of time"))
                continue
            judged.append(self._judge(record, memo))
        return judged

    def _judge(self, record: Record, memo: Memo) -> Judged:
        started = time.perf_counter()
        try:
            verdict, failure = self._verdict(record, memo)
        except Exception as exc:  # a bug must not lose the record: it follows the error policy
            verdict = self._error_verdict(record, f"inspection failed ({type(exc).__name__})", self.settings.on_error)
            failure = None
        return Judged(record, verdict, failure, (time.perf_counter() - started) * 1000)

    def _verdict(self, record: Record, memo: Memo) -> tuple[Verdict, str | None]:
        if _raw_size(record) > self.settings.max_bytes:
            verdict = self._error_verdict(record, TOO_LARGE, self.settings.on_oversize)
            return verdict, None
        oversize = False
        for bucket, key, version in record.s3_objects:
            try:
                content = self.reader.read(bucket, key, version)
            except Exception as exc:
                code = error_code(exc)
                return _unjudged(f"object unreadable ({code})"), f"object unreadable ({code})"
            record.fields.extend(content.fields)
            record.problems.extend(content.problems)
            oversize = oversize or content.oversize
        verdict = self.firewall.inspect_record(record, memo)
        enforce_oversize = self.settings.on_oversize == "quarantine" and self.settings.mode == "enforce"
        if oversize and enforce_oversize and verdict.action == "forward":
            verdict = dataclasses.replace(verdict, action="quarantine", error=TOO_LARGE)
        return verdict, None

    def _error_verdict(self, record: Record, reason: str, policy: str) -> Verdict:
        action = "quarantine" if policy == "quarantine" and self.settings.mode == "enforce" else "forward"
        return Verdict(detected=False, action=action, score=0, record_id=record.record_id, error=reason)

    # -- outcomes ----------------------------------------------------------------------------

    def _store(self, batch: Batch, item: Judged) -> bool:
        try:
            key = self.quarantine.store(item.record, item.verdict, source_arn=batch.source_arn, received=self.clock())
        except Exception as exc:
            item.failure = f"quarantine write failed ({error_code(exc)})"
            return False
        if self.notifier is not None:
            self.notifier.quarantined(item.record, item.verdict, key)
        return True

    def _log(self, batch: Batch, item: Judged, outcome: str, reason: str | None = None) -> None:
        self.audit.record(
            source=batch.source,
            record_id=item.record.record_id,
            verdict=item.verdict,
            outcome=outcome,
            latency_ms=item.latency_ms,
            reason=reason or item.failure,
        )

    def _forward_parts(self, batch: Batch, items: list[Judged], context: Any) -> tuple[set[str], str | None]:
        """Synchronously forwards `items` in order, in parts that fit one invoke. Returns the ids that
        failed and why; after a part fails as a whole, later parts are not sent (they fail too). A
        part is not sent when the function has less time left than the target may take: killed
        while it waits, the firewall could answer for none of the batch, and AWS would deliver it
        all again, records the target had already taken included."""
        failed: set[str] = set()
        reason = None
        by_raw = {id(item.record.raw): item for item in items}
        for part in split_by_size([item.record.raw for item in items]):
            records = [by_raw[id(raw)].record for raw in part]
            ids = [r.record_id for r in records]
            if reason is not None:
                failed.update(ids)
                continue
            if _remaining_ms(context) < self.settings.target_timeout_ms + SAFETY_MARGIN_MS:
                failed.update(ids)
                reason = "too little time left to wait for the target"
                continue
            result = self.forwarder.invoke_sync(to_event(batch, records))
            if not result.ok:
                failed.update(ids)
                reason = result.reason
            elif result.failed_ids:
                if not set(result.failed_ids) <= set(ids):
                    failed.update(ids)
                    reason = "target reported unknown record ids"
                else:
                    failed.update(result.failed_ids)
                    reason = "target reported partial failure"
        return failed, reason

    # -- SQS ---------------------------------------------------------------------------------

    def _queue(self, batch: Batch, judged: list[Judged], context: Any) -> dict[str, Any]:
        outcome: dict[int, tuple[str, str | None]] = {}
        blocked: set[str | None] = set()
        to_forward: list[Judged] = []
        for index, item in enumerate(judged):
            group = item.record.group_id
            if batch.fifo and group in blocked:
                outcome[index] = ("failed", "an earlier message of its group failed")
            elif item.failure is None and item.verdict.action == "quarantine" and self._store(batch, item):
                outcome[index] = ("quarantined", None)
            elif item.failure is not None:
                outcome[index] = ("failed", None)
                blocked.add(group)
            else:
                to_forward.append(item)
        if to_forward:
            failed, reason = self._forward_parts(batch, to_forward, context)
            position = {id(item): index for index, item in enumerate(judged)}
            for item in to_forward:
                index = position[id(item)]
                outcome[index] = ("failed", reason) if item.record.record_id in failed else ("forwarded", None)
        if batch.fifo:
            _fail_rest_of_groups(judged, outcome)
        failures = []
        for index, item in enumerate(judged):
            kind, reason = outcome[index]
            self._log(batch, item, kind, reason)
            if kind == "failed":
                failures.append({"itemIdentifier": item.record.record_id})
        return {"batchItemFailures": failures}

    # -- DynamoDB and Kinesis streams --------------------------------------------------------

    def _stream(self, batch: Batch, judged: list[Judged], context: Any) -> dict[str, Any]:
        stop = len(judged)
        reason: str | None = None
        for index, item in enumerate(judged):
            if item.failure is not None:
                stop, reason = index, item.failure
                break
            if item.verdict.action == "quarantine" and not self._store(batch, item):
                stop, reason = index, item.failure
                break
        to_forward = [item for item in judged[:stop] if item.verdict.action == "forward"]
        if to_forward:
            failed, forward_reason = self._forward_parts(batch, to_forward, context)
            if failed:
                position = {id(item): index for index, item in enumerate(judged)}
                first = min(position[id(item)] for item in to_forward if item.record.record_id in failed)
                if first < stop:
                    stop, reason = first, forward_reason
        for index, item in enumerate(judged):
            if index >= stop:
                self._log(batch, item, "failed", reason if index == stop else "retried after an earlier record")
            else:
                self._log(batch, item, "quarantined" if item.verdict.action == "quarantine" else "forwarded")
        if stop < len(judged):
            return {"batchItemFailures": [{"itemIdentifier": judged[stop].record.record_id}]}
        return {"batchItemFailures": []}

    # -- S3, SNS and EventBridge (asynchronous invocations) ---------------------------------

    def _asynchronous(self, batch: Batch, judged: list[Judged]) -> dict[str, Any]:
        problems = [item for item in judged if item.failure is not None]
        quarantined = []
        for item in judged:
            if item.failure is None and item.verdict.action == "quarantine":
                if self._store(batch, item):
                    quarantined.append(item)
                else:
                    problems.append(item)
        if problems:
            for item in judged:
                self._log(batch, item, "failed", item.failure or "retried with its event")
            raise RetryEvent(f"{len(problems)} of {len(judged)} record(s) could not be judged or quarantined; retrying")
        to_forward = [item for item in judged if item.verdict.action == "forward"]
        if to_forward:
            try:
                self.forwarder.invoke_async(to_event(batch, [item.record for item in to_forward]))
            except ForwardError as exc:
                for item in judged:
                    self._log(batch, item, "failed", str(exc))
                raise RetryEvent(f"forwarding {len(to_forward)} record(s) failed; retrying") from None
        for item in judged:
            self._log(batch, item, "quarantined" if item in quarantined else "forwarded")
        return {"forwarded": len(to_forward), "quarantined": len(quarantined)}


def _fail_rest_of_groups(judged: list[Judged], outcome: dict[int, tuple[str, str | None]]) -> None:
    """FIFO: once a message of a group failed, every later message of that group fails too."""
    failed_groups: set[str | None] = set()
    for index, item in enumerate(judged):
        group = item.record.group_id
        if group in failed_groups and outcome[index][0] != "failed":
            outcome[index] = ("failed", "an earlier message of its group failed")
        elif outcome[index][0] == "failed":
            failed_groups.add(group)


def _remaining_ms(context: Any) -> float:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return float(getter()) if callable(getter) else float("inf")


def _raw_size(record: Record) -> int:
    return len(json.dumps(record.raw, default=str))
