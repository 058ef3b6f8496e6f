"""The accounting: did every event end where it should, exactly as sent, and nothing get lost?

Judged from ground truth, not from the firewall's own logs: what each sample was (clean or
malicious), what the pollers delivered, what the target functions received, what lies in the
quarantine bucket, and what is left in the sources and failure queues.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from .. import __version__
from ..runtime.quarantine import SCHEMA_VERSION
from .account import BucketSource, Deployment, QueueSource, Route, StreamSource
from .pollers import Delivery, s3_identity
from .targets import Invocation
from .traffic import Sent

SOURCE_NAMES = {QueueSource: "sqs", BucketSource: "s3", StreamSource: "dynamodb"}


@dataclass
class Envelope:
    key: str
    body: dict[str, Any]


@dataclass
class RouteTally:
    """What the firewall reported for one route (from its audit log lines)."""

    received: int = 0
    forwarded: int = 0
    quarantined: int = 0
    failed: int = 0
    signatures: Counter[str] = field(default_factory=Counter)


@dataclass
class Row:
    """What became of one sample (for the summary's per-event table)."""

    route: str
    label: str
    malicious: bool
    outcome: str
    """forwarded, quarantined, both, or lost."""
    signatures: list[str] = field(default_factory=list)


@dataclass
class Accounting:
    sent: int = 0
    clean: int = 0
    malicious: int = 0
    clean_delivered: int = 0
    malicious_quarantined: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    example_record_id: str | None = None

    @property
    def holds(self) -> bool:
        return not self.problems


def _content_key(sent: Sent) -> str:
    return json.dumps([sent.event_name, sent.keys, sent.new_image], sort_keys=True)


def _record_content_key(record: dict[str, Any]) -> str:
    data = record.get("dynamodb", {})
    return json.dumps([record.get("eventName"), data.get("Keys"), data.get("NewImage")], sort_keys=True)


def identity(route: Route, record: dict[str, Any]) -> str:
    """A record's identity within its route, the same for the delivered and the forwarded copy."""
    if isinstance(route.source, QueueSource):
        return str(record.get("messageId"))
    if isinstance(route.source, BucketSource):
        return s3_identity(record)
    return _record_content_key(record)


def sent_identity(route: Route, sent: Sent) -> str:
    if isinstance(route.source, QueueSource):
        return sent.message_id
    if isinstance(route.source, BucketSource):
        return f"{sent.bucket}/{sent.key}@{sent.version_id or ''}"
    return _content_key(sent)


def _matches_sent(route: Route, sent: Sent, record: dict[str, Any], contents: dict[str, bytes]) -> str | None:
    """Why `record` is not exactly what the producer sent (None: it is)."""
    if isinstance(route.source, QueueSource):
        if record.get("body") != sent.sample.body:
            return "body differs from the message sent"
        attributes = {k: v.get("stringValue") for k, v in record.get("messageAttributes", {}).items()}
        expected = {k: v["StringValue"] for k, v in sent.sample.attributes.items()}
        return None if attributes == expected else "message attributes differ"
    if isinstance(route.source, BucketSource):
        obj = record.get("s3", {}).get("object", {})
        if unquote_plus(obj.get("key", "")) != sent.key:
            return "object key differs"
        if obj.get("size") != len(sent.sample.content):
            return "object size differs"
        return None
    data = record.get("dynamodb", {})
    if data.get("NewImage") != sent.new_image or data.get("Keys") != sent.keys:
        return "item image differs from the item written"
    return None


def _s3_key_identity(sent: Sent, delivered: dict[str, Delivery]) -> str | None:
    """S3 records are named by bucket, key and version (or sequencer when unversioned)."""
    prefix = f"{sent.bucket}/{sent.key}@"
    if sent.version_id:
        return prefix + sent.version_id
    matches = [i for i in delivered if i.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


def account(
    deployment: Deployment,
    sent: list[Sent],
    delivered: dict[str, dict[str, Delivery]],
    invocations: list[Invocation],
    envelopes: list[Envelope],
    leftovers: dict[str, int],
    handler_errors: dict[str, list[str]],
    object_copies: dict[str, bytes],
) -> Accounting:
    """`delivered`: per route, identity -> delivery; `leftovers`: queue -> messages still in it."""
    result = Accounting(sent=len(sent))
    routes = {r.name: r for r in deployment.routes}
    by_target = {r.target.name: r for r in deployment.routes}
    received: dict[str, Counter[str]] = {r: Counter() for r in routes}
    target_records: dict[str, dict[str, list[dict[str, Any]]]] = {r: {} for r in routes}
    for invocation in invocations:
        route = by_target.get(invocation.function)
        if route is None:
            result.problems.append(f"an invocation of {invocation.function}, which is no route's target")
            continue
        if invocation.error:
            result.problems.append(f"{route.name}: the target raised {invocation.error}")
        for record in invocation.event.get("Records", []):
            key = identity(route, record)
            received[route.name][key] += 1
            target_records[route.name].setdefault(key, []).append(record)
    quarantined: dict[str, dict[str, Envelope]] = {r: {} for r in routes}
    for envelope in envelopes:
        route = routes.get(str(envelope.body.get("route")))
        if route is None:
            result.problems.append(f"quarantine object {envelope.key} names no deployed route")
            continue
        quarantined[route.name][identity(route, envelope.body.get("record", {}))] = envelope

    expected: set[tuple[str, str]] = set()
    for item in sent:
        route = routes[item.route]
        ident = sent_identity(route, item)
        if isinstance(route.source, BucketSource):
            ident = _s3_key_identity(item, delivered.get(route.name, {})) or ident
        expected.add((route.name, ident))
        what = f"{route.name}: {item.sample.label!r}"
        delivery = delivered.get(route.name, {}).get(ident)
        reached, held = received[route.name][ident], quarantined[route.name].get(ident)
        outcome = "both" if reached and held else "forwarded" if reached else "quarantined" if held else "lost"
        signatures = (
            sorted({m.get("signature_id", "") for m in held.body.get("verdict", {}).get("matches", [])}) if held else []
        )
        result.rows.append(Row(route.name, item.sample.label, item.sample.malicious, outcome, signatures))
        if held and result.example_record_id is None:
            result.example_record_id = str(held.body.get("record_id"))
        if item.sample.malicious:
            result.malicious += 1
            if received[route.name][ident]:
                result.problems.append(f"{what} is malicious and reached the target")
            if held is None:
                result.problems.append(f"{what} is malicious and is not in the quarantine")
                continue
            problem = _check_envelope(route, held, delivery, item, object_copies)
            if problem:
                result.problems.append(f"{what}: quarantine envelope {held.key}: {problem}")
                continue
            families = {m.get("category") for m in held.body["verdict"].get("matches", [])}
            if not families & set(item.sample.families):
                result.notes.append(
                    f"{what}: quarantined by {', '.join(sorted(str(f) for f in families))}, "
                    f"expected {' or '.join(item.sample.families)}"
                )
            result.malicious_quarantined += 1
        else:
            result.clean += 1
            count = received[route.name][ident]
            if count != 1:
                result.problems.append(f"{what} is clean and reached the target {count} times (expected once)")
                continue
            if ident in quarantined[route.name]:
                result.problems.append(f"{what} is clean and was also quarantined")
            record = target_records[route.name][ident][0]
            if delivery is not None and record != delivery.record:
                result.problems.append(f"{what} reached the target changed (not the record Lambda delivered)")
                continue
            problem = _matches_sent(route, item, record, object_copies)
            if problem:
                result.problems.append(f"{what}: {problem}")
                continue
            result.clean_delivered += 1
    for route_name, counts in received.items():
        for ident in counts:
            if (route_name, ident) not in expected:
                result.problems.append(f"{route_name}: the target received a record nobody sent ({ident[:60]})")
    for route_name, errors in handler_errors.items():
        for error in errors:
            result.problems.append(f"{route_name}: the firewall function failed: {error[:200]}")
    for queue, count in sorted(leftovers.items()):
        if count:
            result.problems.append(f"{count} message(s) left in {queue}")
    return result


def _check_envelope(
    route: Route, envelope: Envelope, delivery: Delivery | None, sent: Sent, object_copies: dict[str, bytes]
) -> str | None:
    body = envelope.body
    source = SOURCE_NAMES[type(route.source)]
    expected = {
        "schema_version": SCHEMA_VERSION,
        "route": route.name,
        "source": source,
        "status": "pending",
        "target": route.function.environment.get("FIREWALL_TARGET"),
        "firewall_version": __version__,
    }
    for name, value in expected.items():
        if body.get(name) != value:
            return f"{name} is {body.get(name)!r}, expected {value!r}"
    if not envelope.key.startswith(f"{route.name}/") or not envelope.key.endswith(
        f"/{source}/{body.get('record_id')}.json"
    ):
        return "its key does not follow ROUTE/YYYY/MM/DD/SOURCE/RECORD_ID.json"
    if not body.get("signature_set") or not body.get("received_at"):
        return "signature_set or received_at missing"
    if delivery is not None and body.get("record") != delivery.record:
        return "the record is not the one the function received, verbatim"
    problem = _matches_sent(route, sent, body.get("record", {}), object_copies)
    if problem:
        return f"the record is not what was sent ({problem})"
    verdict = body.get("verdict", {})
    if verdict.get("action") != "quarantine" or not verdict.get("detected") or not verdict.get("matches"):
        return f"verdict {verdict.get('action')!r} (detected {verdict.get('detected')!r}) has no matching signatures"
    if isinstance(route.source, BucketSource):
        copies = body.get("objects") or []
        copy_key = copies[0].get("copy_key") if copies else None
        if not copy_key or object_copies.get(copy_key) != sent.sample.content:
            return "the object's copy is missing or differs from the upload"
    return None
