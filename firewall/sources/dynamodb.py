"""DynamoDB stream records: typed attribute values deserialised, then flattened like JSON."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from firewall.sources.base import Record
from firewall.sources.fields import (
    DEFAULT_LIMITS,
    Collector,
    Limits,
    as_str,
    decode_base64,
    member,
    text_or_bytes,
)

SOURCE = "dynamodb"
EVENT_SOURCE = "aws:dynamodb"

_Slot = tuple[Any, Any, Any, int]
"""(typed value, container to fill, key or index in it, depth): one pending value to deserialise."""


def _number(text: Any) -> Any:
    """`N` values are not fields (a Decimal is skipped by the walk); a malformed one stays text."""
    try:
        return Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        return text


def _binary(collector: Collector, encoded: Any) -> Any:
    """`B` values are base64: text if the bytes are UTF-8, else the bytes; bad base64 stays text."""
    if not isinstance(encoded, str):
        return encoded
    data, problem = decode_base64(encoded)
    if data is None:
        collector.problem(f"DynamoDB B value: {problem}")
        return encoded
    return text_or_bytes(data)


def _scalar(collector: Collector, tag: str, value: Any) -> Any:
    """Deserialise a value whose type holds no nested attribute values. A value of another shape
    than its type allows is a problem, and is kept to be inspected: a `BOOL` holding a string
    reaches a function that deserialises it as the string."""
    if tag == "N":
        return _number(value)
    if tag == "B":
        return _binary(collector, value)
    if tag in ("SS", "NS", "BS"):
        if isinstance(value, list):
            return [_scalar(collector, tag[0], item) for item in value]
        collector.problem(f"DynamoDB {tag} value is a {type(value).__name__}, not a list")
        return value
    if (tag == "BOOL" and isinstance(value, bool)) or (tag == "NULL" and value is True):
        return None
    if tag in ("BOOL", "NULL"):
        expected = "a boolean" if tag == "BOOL" else "true"
        collector.problem(f"DynamoDB {tag} value is a {type(value).__name__}, not {expected}")
    return value


def _container(collector: Collector, tag: str, value: Any, depth: int, stack: list[_Slot]) -> Any:
    """Make an empty map or list for `M`/`L` and queue its members to be filled in."""
    if tag == "M" and isinstance(value, dict):
        made: dict[str, Any] = dict.fromkeys(value)
        stack.extend((typed, made, name, depth + 1) for name, typed in value.items())
        return made
    if tag == "L" and isinstance(value, list):
        items: list[Any] = [None] * len(value)
        stack.extend((typed, items, index, depth + 1) for index, typed in enumerate(value))
        return items
    collector.problem(f"DynamoDB {tag} value is a {type(value).__name__}, not a {'map' if tag == 'M' else 'list'}")
    return value


def _one(collector: Collector, typed: Any, depth: int, stack: list[_Slot]) -> Any:
    """Deserialise one typed value; anything not of the form {TYPE: value} is kept as is."""
    if not isinstance(typed, dict) or len(typed) != 1:
        return typed
    ((tag, value),) = typed.items()
    if tag in ("M", "L"):
        if depth >= collector.limits.max_depth:
            collector.problem(f"DynamoDB value nested deeper than {collector.limits.max_depth} levels")
            return None
        return _container(collector, tag, value, depth, stack)
    return _scalar(collector, str(tag), value)


def deserialize_image(collector: Collector, image: Any) -> Any:
    """An item image ({name: typed value}) as plain values, without recursion."""
    root: list[Any] = [None]
    stack: list[_Slot] = [({"M": image}, root, 0, 0)]
    while stack:
        typed, container, slot, depth = stack.pop()
        container[slot] = _one(collector, typed, depth, stack)
    return root[0]


def parse_record(
    raw: dict[str, Any], index: int, limits: Limits = DEFAULT_LIMITS, *, include_old_image: bool = False
) -> Record:
    """One stream record: id from `dynamodb.SequenceNumber`; Keys, NewImage (and OldImage if asked)."""
    collector = Collector(limits)
    stream = raw.get("dynamodb")
    sequence = as_str(member(stream, "SequenceNumber"))
    if sequence is None:
        collector.problem("DynamoDB record without dynamodb.SequenceNumber")
    images = ("Keys", "NewImage", "OldImage") if include_old_image else ("Keys", "NewImage")
    for name in images:
        image = member(stream, name)
        if isinstance(image, dict):
            collector.walk(f"dynamodb.{name}", deserialize_image(collector, image))
        elif image is not None:
            collector.problem(f"DynamoDB dynamodb.{name} is a {type(image).__name__}, not a map")
            collector.walk(f"dynamodb.{name}", image)
    return Record(
        source=SOURCE,
        record_id=sequence or f"missing-id-{index}",
        raw=raw,
        fields=collector.fields,
        problems=collector.problems,
    )
