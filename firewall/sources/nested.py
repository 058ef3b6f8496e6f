"""Envelopes inside bodies: an S3 notification, an SNS envelope, an EventBridge event or an SES receipt
(an inbound mail) in a message.

The generic flattening already exposes their text (`sqs.body.Message...`); unwrapping adds what a
flat walk cannot: decoded S3 keys as `s3.key`, the decoded bytes of an SNS envelope's binary
attributes, an inbound mail read as headers and parts (`ses`), and the objects the runtime must read.
"""

from __future__ import annotations

from typing import Any

from firewall.sources import eventbridge, s3, ses
from firewall.sources.fields import Collector, as_str, child_path, is_mapping, member, parse_json_text
from firewall.sources.s3 import S3Object

MAX_ENVELOPES = 4
"""How many envelopes are opened one inside another (SQS > SNS > S3 needs two)."""


def is_sns_envelope(value: Any) -> bool:
    """The JSON SNS delivers to SQS or HTTP when raw delivery is off."""
    return member(value, "Type") == "Notification" and isinstance(member(value, "Message"), str)


def unwrap(collector: Collector, value: Any, path: str) -> list[S3Object]:
    """Follow envelopes inside `value` (already parsed, found at `path`) and return the S3 objects
    they name."""
    for _ in range(MAX_ENVELOPES):
        if s3.is_notification(value):
            return s3.add_notification(collector, value)
        if eventbridge.is_event(value):
            return eventbridge.add_s3_object(collector, value)
        if not is_sns_envelope(value):
            if ses.is_receipt(value):  # after the envelope test: an envelope is followed first
                ses.add_receipt_content(collector, value, path)
            return []
        add_binary_attributes(collector, f"{path}.MessageAttributes", member(value, "MessageAttributes"))
        path = f"{path}.Message"
        value, _problem = parse_json_text(as_str(member(value, "Message")) or "")
    return []


def add_binary_attributes(collector: Collector, prefix: str, attributes: Any) -> None:
    """The decoded bytes of an SNS envelope's `Binary` attributes, at `<prefix>.NAME` (as a direct
    SNS record has them): the flat walk sees only their base64 text, which hides an attack."""
    if not is_mapping(attributes):
        return
    for name, attribute in attributes.items() if isinstance(attributes, dict) else attributes:
        if member(attribute, "Type") == "Binary":
            collector.add_base64(child_path(prefix, str(name), collector.limits), member(attribute, "Value"))
