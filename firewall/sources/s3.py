"""S3 event notifications: one record per object event, its bucket and decoded key as fields."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import unquote_plus

from firewall.sources.base import Record
from firewall.sources.fields import DEFAULT_LIMITS, Collector, Limits, as_str, is_mapping, member

SOURCE = "s3"
EVENT_SOURCE = "aws:s3"
TEST_EVENT = "s3:TestEvent"

S3Object = tuple[str, str, str | None]
"""(bucket, key, version id): an object the runtime should read and inspect."""

_GONE_EVENTS = ("ObjectRemoved:", "LifecycleExpiration:", "ReducedRedundancyLostObject")
"""Event names after which the object no longer exists, so there is no content to read."""


def is_test_event(event: Any) -> bool:
    """S3 sends `s3:TestEvent` when a notification is configured; it names no object."""
    return is_mapping(event) and member(event, "Event") == TEST_EVENT


def object_key(encoded: str) -> str:
    """The real object key: notifications URL-encode keys once, with `+` for a space."""
    return unquote_plus(encoded)


def decoded_key(encoded: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """The key to inspect: URL-decoded until stable (bounded), so double encoding hides nothing."""
    current = encoded
    for _ in range(limits.max_decode_rounds):
        decoded = unquote_plus(current)
        if decoded == current:
            break
        current = decoded
    return current


def record_id(bucket: str, key: str, version: str | None, sequencer: str | None) -> str:
    """A stable id usable in an S3 key: one object event gives the same id on every redelivery."""
    parts = "\0".join((bucket, key, version or "", sequencer or ""))
    return "s3-" + hashlib.sha256(parts.encode("utf-8", errors="surrogatepass")).hexdigest()[:40]


def is_notification(value: Any) -> bool:
    """An S3 notification document: `Records` whose entries come from `aws:s3`."""
    records = member(value, "Records")
    if not isinstance(records, list):
        return False
    return any(member(r, "eventSource") == EVENT_SOURCE for r in records)


def _object_parts(entry: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """(bucket, encoded key, version id, sequencer) of one notification entry; None where missing."""
    s3 = member(entry, "s3")
    bucket = as_str(member(member(s3, "bucket"), "name"))
    obj = member(s3, "object")
    return (
        bucket,
        as_str(member(obj, "key")),
        as_str(member(obj, "versionId")) or None,
        as_str(member(obj, "sequencer")),
    )


def add_entry(collector: Collector, entry: Any) -> S3Object | None:
    """Add `s3.bucket` and `s3.key` of one notification entry; return its object if it can be read."""
    bucket, encoded, version, _ = _object_parts(entry)
    if bucket is None or encoded is None:
        collector.problem("S3 notification entry without s3.bucket.name or s3.object.key")
        return None
    collector.add("s3.bucket", bucket)
    collector.add("s3.key", decoded_key(encoded, collector.limits))
    event_name = as_str(member(entry, "eventName")) or ""
    if event_name.startswith(_GONE_EVENTS):
        return None
    return (bucket, object_key(encoded), version)


def add_notification(collector: Collector, value: Any) -> list[S3Object]:
    """Add the fields of every entry of an S3 notification (nested in a body); return its objects."""
    objects: list[S3Object] = []
    for entry in member(value, "Records") or []:
        if member(entry, "eventSource") != EVENT_SOURCE:
            continue
        if len(objects) >= collector.limits.max_objects:
            collector.problem(f"more than {collector.limits.max_objects} S3 objects named; the rest were not read")
            break
        found = add_entry(collector, entry)
        if found is not None:
            objects.append(found)
    return objects


def parse_record(raw: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> Record:
    """One direct S3 notification record: its id, fields and (if it still exists) its object."""
    collector = Collector(limits)
    found = add_entry(collector, raw)
    bucket, encoded, version, sequencer = _object_parts(raw)
    rid = record_id(bucket or "", object_key(encoded or ""), version, sequencer)
    return Record(
        source=SOURCE,
        record_id=rid,
        raw=raw,
        fields=collector.fields,
        problems=collector.problems,
        s3_objects=[found] if found else [],
    )
