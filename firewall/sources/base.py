"""What every event source produces: records that carry their raw form and their fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Field(NamedTuple):
    """One value to inspect, with the path that names where it came from (`sqs.body.items[2].note`).

    A named tuple rather than a frozen dataclass: a large record carries thousands of fields, and a
    tuple is several times cheaper to build (see `fields.Collector`). It is still immutable, and
    equal to another Field with the same path and value.
    """

    path: str
    value: str | bytes


@dataclass
class Record:
    """One record of a Lambda event.

    `raw` is the record exactly as the event carried it: it is what gets forwarded or quarantined.
    `fields` are the decoded values to inspect. `problems` lists what could not be decoded
    (a body nested too deeply, invalid base64); the runtime treats them under the error policy.
    """

    source: str
    """One of SOURCES: s3, sqs, dynamodb, sns, kinesis, eventbridge."""
    record_id: str
    raw: dict[str, Any]
    fields: list[Field] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    group_id: str | None = None
    """SQS FIFO message group, used to keep order after a failure."""
    s3_objects: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(bucket, key, version id) of S3 objects whose content the runtime should read and inspect."""


SOURCES = ("s3", "sqs", "dynamodb", "sns", "kinesis", "eventbridge")
