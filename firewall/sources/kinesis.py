"""Kinesis stream records: the base64 data decoded (and opened if JSON), and the partition key."""

from __future__ import annotations

from typing import Any

from firewall.sources.base import Record
from firewall.sources.fields import (
    DEFAULT_LIMITS,
    Collector,
    Limits,
    as_str,
    member,
)

SOURCE = "kinesis"
EVENT_SOURCE = "aws:kinesis"


def parse_record(raw: dict[str, Any], index: int, limits: Limits = DEFAULT_LIMITS) -> Record:
    """One Kinesis record, identified by `kinesis.sequenceNumber`."""
    collector = Collector(limits)
    kinesis = raw.get("kinesis")
    sequence = as_str(member(kinesis, "sequenceNumber"))
    if sequence is None:
        collector.problem("Kinesis record without kinesis.sequenceNumber")
    partition_key = as_str(member(kinesis, "partitionKey"))
    if partition_key is not None:
        collector.add("kinesis.partitionKey", partition_key)
    encoded = as_str(member(kinesis, "data"))
    if encoded is None:
        collector.problem("Kinesis record without kinesis.data")
    else:
        collector.add_base64("kinesis.data", encoded)  # text when UTF-8 (opened if JSON), else bytes
    return Record(
        source=SOURCE,
        record_id=sequence or f"missing-id-{index}",
        raw=raw,
        fields=collector.fields,
        problems=collector.problems,
    )
