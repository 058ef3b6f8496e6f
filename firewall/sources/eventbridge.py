"""EventBridge events: one event is one record; its detail (and who sent it) are the fields."""

from __future__ import annotations

from typing import Any

from firewall.sources.base import Record
from firewall.sources.fields import DEFAULT_LIMITS, Collector, Limits, as_str, is_mapping, member
from firewall.sources.s3 import S3Object, decoded_key

SOURCE = "eventbridge"
_S3_CREATED = ("aws.s3", "Object Created")


def is_event(value: Any) -> bool:
    """An EventBridge event carries `detail-type`, `source` and `detail` at its top level."""
    return is_mapping(value) and all(member(value, k) is not None for k in ("detail-type", "source"))


def add_s3_object(collector: Collector, event: Any) -> list[S3Object]:
    """An S3 `Object Created` event names an object: add `s3.bucket`/`s3.key` and return it.

    EventBridge carries the key as is (not URL-encoded like notifications); it is still decoded
    until stable for inspection, so an encoded payload in a key name is seen.
    """
    if (member(event, "source"), member(event, "detail-type")) != _S3_CREATED:
        return []
    detail = member(event, "detail")
    bucket = as_str(member(member(detail, "bucket"), "name"))
    obj = member(detail, "object")
    key = as_str(member(obj, "key"))
    if bucket is None or key is None:
        collector.problem("S3 Object Created event without detail.bucket.name or detail.object.key")
        return []
    collector.add("s3.bucket", bucket)
    collector.add("s3.key", decoded_key(key, collector.limits))
    return [(bucket, key, as_str(member(obj, "version-id")) or None)]


def add_fields(collector: Collector, event: Any, prefix: str, *, depth: int = 0, layers: int = 0) -> None:
    """The parts a sender chooses: source, detail-type, resources and the whole detail."""
    for name in ("source", "detail-type"):
        value = as_str(member(event, name))
        if value is not None:
            collector.add(f"{prefix}.{name}", value)
    for name in ("resources", "detail"):
        value = member(event, name)
        if isinstance(value, str):
            collector.walk_text(f"{prefix}.{name}", value, depth=depth, layers=layers)
        elif value is not None:
            collector.walk(f"{prefix}.{name}", value, depth=depth, layers=layers)


def parse_record(event: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> Record:
    """The event itself is the record, identified by its `id`."""
    collector = Collector(limits)
    event_id = as_str(event.get("id"))
    if event_id is None:
        collector.problem("EventBridge event without an id")
    add_fields(collector, event, "eventbridge")
    objects = add_s3_object(collector, event)
    return Record(
        source=SOURCE,
        record_id=event_id or "missing-id-0",
        raw=event,
        fields=collector.fields,
        problems=collector.problems,
        s3_objects=objects,
    )
