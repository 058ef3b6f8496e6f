"""Event sources: a raw Lambda event becomes a Batch of records to inspect, and back.

Pure: no AWS clients, no I/O, no environment. `parse_event` recognises S3 notifications (and
`s3:TestEvent`), SQS, SNS, DynamoDB and Kinesis stream batches, and EventBridge events; `to_event`
rebuilds the same event shape holding only the records to forward, verbatim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from firewall.engine.errors import UnknownEventError
from firewall.sources import dynamodb, eventbridge, kinesis, s3, sns, sqs
from firewall.sources.base import SOURCES, Field, Record
from firewall.sources.fields import DEFAULT_LIMITS, Limits, as_str, member

__all__ = [
    "SOURCES",
    "Batch",
    "Field",
    "Limits",
    "Record",
    "UnknownEventError",
    "parse_event",
    "to_event",
]

EXPECTED = (
    "expected one of: an S3 notification (Records[].eventSource 'aws:s3') or an s3:TestEvent; "
    "an SQS batch ('aws:sqs'); an SNS notification (Records[].EventSource 'aws:sns'); "
    "a DynamoDB stream batch ('aws:dynamodb'); a Kinesis batch ('aws:kinesis'); "
    "or an EventBridge event (top-level 'detail-type', 'source' and 'detail')"
)

_EVENT_SOURCES = {
    s3.EVENT_SOURCE: s3.SOURCE,
    sqs.EVENT_SOURCE: sqs.SOURCE,
    sns.EVENT_SOURCE: sns.SOURCE,
    dynamodb.EVENT_SOURCE: dynamodb.SOURCE,
    kinesis.EVENT_SOURCE: kinesis.SOURCE,
}

_ARN_MEMBERS = ("eventSourceARN",)


@dataclass
class Batch:
    """The records of one Lambda event, with what `to_event` needs to rebuild a forwardable event."""

    source: str
    """One of SOURCES."""
    records: list[Record]
    event: dict[str, Any] = field(repr=False)
    """The event exactly as received (records are the very dicts in it); never mutated."""
    test_event: bool = False
    """An `s3:TestEvent`: it names no object, so the batch has no records."""
    source_arn: str | None = None
    """Queue or stream ARN, SNS topic ARN, `arn:aws:s3:::BUCKET` for S3; None for EventBridge."""

    @property
    def fifo(self) -> bool:
        """An SQS FIFO queue: order must be kept per message group after a failure."""
        return self.source == sqs.SOURCE and (self.source_arn or "").endswith(".fifo")


def _fail(reason: str) -> UnknownEventError:
    """The error for an unrecognised event: what was wrong and which shapes are accepted."""
    return UnknownEventError(f"unrecognised Lambda event: {reason}; {EXPECTED}")


def _record_source(record: Any, index: int) -> str:
    """The source named by one entry of `Records` (`eventSource`, or `EventSource` for SNS)."""
    if not isinstance(record, dict):
        raise _fail(f"Records[{index}] is a {type(record).__name__}, not an object")
    name = record.get("eventSource", record.get("EventSource"))
    if name is None:
        raise _fail(f"Records[{index}] has no eventSource")
    if not isinstance(name, str) or name not in _EVENT_SOURCES:
        raise _fail(f"Records[{index}] has unknown eventSource {str(name)[:64]!r}")
    return _EVENT_SOURCES[name]


def _batch_source(records: Any) -> str:
    """The single source of a `Records` list; Lambda never mixes sources in one event."""
    if not isinstance(records, list) or not records:
        raise _fail("'Records' is not a non-empty list")
    sources = {_record_source(record, index) for index, record in enumerate(records)}
    if len(sources) > 1:
        raise _fail(f"Records mix sources {sorted(sources)}")
    return sources.pop()


def _source_arn(source: str, records: list[Record]) -> str | None:
    """Where the batch came from, for quarantine envelopes and logs."""
    if not records:
        return None
    raw = records[0].raw
    if source == s3.SOURCE:
        name = as_str(member(member(raw.get("s3"), "bucket"), "name"))
        return f"arn:aws:s3:::{name}" if name is not None else None
    if source == sns.SOURCE:
        return as_str(member(raw.get("Sns"), "TopicArn"))
    return next((raw[m] for m in _ARN_MEMBERS if isinstance(raw.get(m), str)), None)


def _parser(source: str, limits: Limits, include_old_image: bool) -> Callable[[dict[str, Any], int], Record]:
    """The function turning one raw entry of `Records` (and its index) into a Record."""
    if source == s3.SOURCE:
        return lambda raw, _index: s3.parse_record(raw, limits)
    if source == dynamodb.SOURCE:
        return lambda raw, index: dynamodb.parse_record(raw, index, limits, include_old_image=include_old_image)
    module = {sqs.SOURCE: sqs, sns.SOURCE: sns, kinesis.SOURCE: kinesis}[source]
    return lambda raw, index: module.parse_record(raw, index, limits)


def parse_event(event: Any, *, include_old_image: bool = False, limits: Limits = DEFAULT_LIMITS) -> Batch:
    """Turn a raw Lambda event into a Batch of records, in event order.

    Raises UnknownEventError, naming the accepted shapes, when the event is none of them. A record
    that is malformed inside a recognised batch does not raise: it gets `problems` instead.
    """
    if not isinstance(event, dict):
        raise _fail(f"the event is a {type(event).__name__}, not an object")
    if "Records" not in event and s3.is_test_event(event):
        return Batch(source=s3.SOURCE, records=[], event=event, test_event=True)
    if "Records" in event:
        source = _batch_source(event["Records"])
        parse = _parser(source, limits, include_old_image)
        records = [parse(raw, index) for index, raw in enumerate(event["Records"])]
        return Batch(source=source, records=records, event=event, source_arn=_source_arn(source, records))
    if eventbridge.is_event(event) and "detail" in event:
        return Batch(source=eventbridge.SOURCE, records=[eventbridge.parse_record(event, limits)], event=event)
    keys = [str(key)[:32] for key in list(event)[:10]]
    raise _fail(f"no 'Records' list and no EventBridge members (top-level keys: {keys})")


def to_event(batch: Batch, records: Sequence[Record]) -> dict[str, Any]:
    """The batch's event shape holding only `records`, verbatim and in the batch's order.

    Used to forward the clean part of a batch. Every record must come from `batch`. An EventBridge
    event is its single record: forwarding it with no record is an error (there is nothing to send).
    """
    order = {id(record): index for index, record in enumerate(batch.records)}
    if any(id(record) not in order for record in records):
        raise ValueError("to_event: every record must belong to the batch")
    kept = sorted({id(r): r for r in records}.values(), key=lambda record: order[id(record)])
    if batch.test_event:
        return dict(batch.event)
    if batch.source == eventbridge.SOURCE:
        if not kept:
            raise ValueError("to_event: an EventBridge event is one record; there is nothing to forward")
        return dict(kept[0].raw)
    rebuilt = {name: value for name, value in batch.event.items() if name != "Records"}
    rebuilt["Records"] = [record.raw for record in kept]
    return rebuilt
