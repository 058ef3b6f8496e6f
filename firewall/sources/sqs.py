"""SQS messages: the body (opened if JSON, envelopes unwrapped) and the message attributes."""

from __future__ import annotations

from typing import Any

from firewall.sources import nested
from firewall.sources.base import Record
from firewall.sources.fields import (
    DEFAULT_LIMITS,
    Collector,
    Limits,
    as_str,
    child_path,
    member,
)

SOURCE = "sqs"
EVENT_SOURCE = "aws:sqs"
_SENDER_CHOSEN = ("MessageGroupId", "MessageDeduplicationId")
"""System attributes whose value the sender picks (FIFO queues): inspected as `sqs.<name>`."""


def _attribute_member(attribute: Any, name: str) -> Any:
    """Lambda spells attribute members `stringValue`; the SQS API spells them `StringValue`."""
    value = member(attribute, name)
    return value if value is not None else member(attribute, name[0].upper() + name[1:])


def add_attribute(collector: Collector, path: str, attribute: Any) -> None:
    """One message attribute: its string value, binary value and (unused by SQS today) list values.
    An attribute of another shape than SQS sends is a problem, not a reason to skip it or fail."""
    if not isinstance(attribute, dict):
        collector.problem(f"SQS message attribute {path} is not an object")
        return
    string_value = as_str(_attribute_member(attribute, "stringValue"))
    if string_value is not None:
        collector.walk_text(path, string_value)
    collector.add_base64(path, _attribute_member(attribute, "binaryValue"))
    for name in ("stringListValues", "binaryListValues"):
        values = _attribute_member(attribute, name)
        if values is None:
            continue
        if not isinstance(values, list):
            collector.problem(f"SQS message attribute {path}: {name} is not a list")
            continue
        for index, item in enumerate(values):
            if name == "binaryListValues":
                collector.add_base64(f"{path}[{index}]", item)
            elif isinstance(item, str):
                collector.walk_text(f"{path}[{index}]", item)


def add_attributes(collector: Collector, attributes: Any) -> None:
    """Attribute names at `sqs.attributes.{}`, values at `sqs.attributes.NAME`."""
    if not isinstance(attributes, dict):
        return
    keys_path = child_path("sqs.attributes", "{}", collector.limits)
    for name, attribute in attributes.items():
        collector.add(keys_path, str(name))
        add_attribute(collector, child_path("sqs.attributes", str(name), collector.limits), attribute)


def _add_system_attributes(collector: Collector, attributes: Any) -> str | None:
    """Inspect the sender-chosen FIFO attributes; return the message group id."""
    for name in _SENDER_CHOSEN:
        value = as_str(member(attributes, name))
        if value is not None:
            collector.add(f"sqs.{name}", value)
    return as_str(member(attributes, "MessageGroupId"))


def parse_record(raw: dict[str, Any], index: int, limits: Limits = DEFAULT_LIMITS) -> Record:
    """One SQS message: id from `messageId`; an S3 or SNS envelope in the body is unwrapped."""
    collector = Collector(limits)
    message_id = as_str(raw.get("messageId"))
    if message_id is None:
        collector.problem("SQS record without messageId")
    body = as_str(raw.get("body"))
    objects = []
    if body is None:
        collector.problem("SQS record without a string body")
    else:
        objects = nested.unwrap(collector, collector.walk_text("sqs.body", body), "sqs.body")
    add_attributes(collector, raw.get("messageAttributes"))
    group_id = _add_system_attributes(collector, raw.get("attributes"))
    return Record(
        source=SOURCE,
        record_id=message_id or f"missing-id-{index}",
        raw=raw,
        fields=collector.fields,
        problems=collector.problems,
        group_id=group_id,
        s3_objects=objects,
    )
