"""SNS notifications delivered to Lambda: subject, message (opened if JSON) and attributes."""

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

SOURCE = "sns"
EVENT_SOURCE = "aws:sns"


def add_attribute(collector: Collector, path: str, attribute: Any) -> None:
    """One SNS message attribute: `Binary` values are base64, the others text (String.Array is JSON).
    An attribute of another shape than SNS sends is a problem, and its text is still inspected."""
    if not isinstance(attribute, dict):
        collector.problem(f"SNS message attribute {path} is not an object")
        collector.walk(path, attribute)
        return
    value = as_str(member(attribute, "Value"))
    if value is None:
        return
    if member(attribute, "Type") != "Binary":
        collector.walk_text(path, value)
    else:
        collector.add_base64(path, value)


def add_attributes(collector: Collector, prefix: str, attributes: Any) -> None:
    """Every attribute name at `<prefix>.{}` and every value at `<prefix>.NAME`."""
    if not isinstance(attributes, dict):
        return
    keys_path = child_path(prefix, "{}", collector.limits)
    for name, attribute in attributes.items():
        collector.add(keys_path, str(name))
        add_attribute(collector, child_path(prefix, str(name), collector.limits), attribute)


def parse_record(raw: dict[str, Any], index: int, limits: Limits = DEFAULT_LIMITS) -> Record:
    """One SNS record: id from `Sns.MessageId`; an S3 notification in the message is unwrapped."""
    collector = Collector(limits)
    sns = raw.get("Sns")
    message_id = as_str(member(sns, "MessageId"))
    if message_id is None:
        collector.problem("SNS record without Sns.MessageId")
    subject = as_str(member(sns, "Subject"))
    if subject is not None:
        collector.walk_text("sns.subject", subject)
    message = as_str(member(sns, "Message"))
    objects = []
    if message is None:
        collector.problem("SNS record without Sns.Message")
    else:
        objects = nested.unwrap(collector, collector.walk_text("sns.message", message), "sns.message")
    add_attributes(collector, "sns.attributes", member(sns, "MessageAttributes"))
    return Record(
        source=SOURCE,
        record_id=message_id or f"missing-id-{index}",
        raw=raw,
        fields=collector.fields,
        problems=collector.problems,
        s3_objects=objects,
    )
