"""`firewall.yaml`: what a user edits besides signatures. Validated before any construct exists,
with errors naming the file, the route and the field."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from firewall.engine.model import MODES, ON_ERROR_POLICIES, PARANOIA_LEVELS

ROUTE_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
SAMPLE_TARGETS = ("orders", "uploads", "profiles")


class ConfigError(ValueError):
    def __init__(self, path: str, where: str, reason: str) -> None:
        super().__init__(f"{path}: {where}: {reason}" if where else f"{path}: {reason}")


@dataclass(frozen=True)
class RouteSettings:
    """Per-route knobs; `defaults` sets them for every route, a route may override any."""

    mode: str = "enforce"
    paranoia: int = 1
    on_error: str = "quarantine"
    on_oversize: str = "quarantine"
    max_bytes: int = 1_048_576
    budget_ms: int = 2_000
    reserved_concurrency: int = 5
    batch_size: int = 10
    batching_window_seconds: int = 1
    memory_mb: int = 1024
    target_timeout_seconds: int = 30
    """The target's timeout when the target is not defined in this app (an existing function)."""
    retry_attempts: int = 3
    max_record_age_hours: int = 6
    include_old_image: bool = False
    inspect_object_metadata: bool = False


@dataclass(frozen=True)
class Source:
    kind: str
    """queue, bucket or table."""
    existing: str | None
    """Name or ARN of an existing resource; None: the stack creates one."""
    prefix: str = ""
    suffix: str = ""
    stream_arn: str | None = None
    kms_key: str | None = None
    """ARN of the customer-managed KMS key an existing source is encrypted with: the firewall may
    decrypt with it (to receive the queue's messages, read the bucket's objects, read the stream)."""


@dataclass(frozen=True)
class Target:
    sample: str | None = None
    function: str | None = None


@dataclass(frozen=True)
class RouteExclusion:
    """A reviewed false positive (written by `firewall quarantine allow`), with why and by whom."""

    signature: str
    path: str | None
    reason: str


@dataclass(frozen=True)
class Route:
    name: str
    source: Source
    target: Target
    settings: RouteSettings
    exclusions: tuple[RouteExclusion, ...] = ()


@dataclass(frozen=True)
class FirewallConfig:
    stack_name: str
    routes: tuple[Route, ...]
    retention_days: int = 90
    object_lock_days: int = 0
    alarm_email: str | None = None
    alarm_topic_arn: str | None = None
    path: str = "firewall.yaml"


def load_config(path: str | Path = "firewall.yaml") -> FirewallConfig:
    name = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(name, "", f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(name, "", f"invalid YAML: {exc}") from None
    return parse_config(data, name)


def parse_config(data: Any, name: str = "firewall.yaml") -> FirewallConfig:
    top = _mapping(data, name, "", ("stack_name", "defaults", "quarantine", "alarms", "routes"))
    defaults = _settings(RouteSettings(), top.get("defaults") or {}, name, "defaults", "defaults.")
    quarantine = _mapping(top.get("quarantine") or {}, name, "quarantine", ("retention_days", "object_lock_days"))
    alarms = _mapping(top.get("alarms") or {}, name, "alarms", ("email", "topic_arn"))
    routes_data = _mapping(top.get("routes"), name, "routes", None)
    if not routes_data:
        raise ConfigError(name, "routes", "at least one route is required")
    routes = tuple(_route(route, spec, defaults, name) for route, spec in routes_data.items())
    stack_name = top.get("stack_name", "EventFirewall")
    if not isinstance(stack_name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", stack_name):
        raise ConfigError(name, "stack_name", "must be letters, digits and hyphens, starting with a letter")
    return FirewallConfig(
        stack_name=stack_name,
        routes=routes,
        retention_days=_int(quarantine.get("retention_days", 90), name, "quarantine.retention_days", 1, 3650),
        object_lock_days=_int(quarantine.get("object_lock_days", 0), name, "quarantine.object_lock_days", 0, 3650),
        alarm_email=_optional_str(alarms.get("email"), name, "alarms.email"),
        alarm_topic_arn=_optional_str(alarms.get("topic_arn"), name, "alarms.topic_arn"),
        path=name,
    )


def _mapping(value: Any, name: str, where: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(name, where or "top level", "expected a mapping")
    if allowed is not None:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise ConfigError(
                name, where or "top level", f"unknown field {unknown[0]!r} (allowed: {', '.join(allowed)})"
            )
    return value


def _int(value: Any, name: str, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(name, where, f"must be a whole number from {low} to {high}, got {value!r}")
    return value


def _optional_str(value: Any, name: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(name, where, "must be a non-empty string")
    return value.strip()


_LIMITS: dict[str, tuple[int, int]] = {
    "paranoia": (min(PARANOIA_LEVELS), max(PARANOIA_LEVELS)),
    "max_bytes": (1024, 64 * 1024 * 1024),
    "budget_ms": (10, 600_000),
    "reserved_concurrency": (1, 1000),
    "batch_size": (1, 10_000),
    "batching_window_seconds": (0, 300),
    "memory_mb": (128, 10_240),
    "target_timeout_seconds": (1, 900),
    "retry_attempts": (0, 10_000),
    "max_record_age_hours": (1, 168),
}
_CHOICES: dict[str, tuple[str, ...]] = {"mode": MODES, "on_error": ON_ERROR_POLICIES, "on_oversize": ON_ERROR_POLICIES}


def _settings(base: RouteSettings, data: Any, name: str, where: str, prefix: str) -> RouteSettings:
    names = tuple(f.name for f in fields(RouteSettings))
    values = _mapping(data, name, where, names)
    checked: dict[str, Any] = {}
    for key, value in values.items():
        at = prefix + key
        if key in _CHOICES:
            if value not in _CHOICES[key]:
                raise ConfigError(name, at, f"must be one of {', '.join(_CHOICES[key])}, got {value!r}")
        elif key in _LIMITS:
            value = _int(value, name, at, *_LIMITS[key])
        elif not isinstance(value, bool):
            raise ConfigError(name, at, f"must be true or false, got {value!r}")
        checked[key] = value
    return replace(base, **checked)


def _route(route: Any, spec: Any, defaults: RouteSettings, name: str) -> Route:
    where = f"route {route!r}"
    if not isinstance(route, str) or not ROUTE_NAME.fullmatch(route):
        raise ConfigError(name, where, "route names are lower-case letters, digits and hyphens (at most 40)")
    structural = ("source", "target", "exclusions")
    body = _mapping(spec, name, where, (*structural, *(f.name for f in fields(RouteSettings))))
    if "source" not in body or "target" not in body:
        raise ConfigError(name, where, "needs both `source` and `target`")
    overrides = {k: v for k, v in body.items() if k not in structural}
    result = Route(
        name=route,
        source=_source(body["source"], name, where + ": source"),
        target=_target(body["target"], name, where + ": target"),
        settings=_settings(defaults, overrides, name, where, where + ": "),
        exclusions=_exclusions(body.get("exclusions") or [], name, where + ": exclusions"),
    )
    s = result.settings
    if result.source.kind == "queue" and s.batch_size > 10 and s.batching_window_seconds < 1:
        raise ConfigError(name, where, "an SQS batch over 10 messages needs batching_window_seconds of 1 or more")
    if result.source.kind == "table" and s.max_record_age_hours >= 24:
        raise ConfigError(
            name,
            where,
            "max_record_age_hours must be under 24: a DynamoDB stream keeps records 24 hours, and the "
            "failure queue receives only where they were, so they must still be there when it is read",
        )
    return result


def _exclusions(spec: Any, name: str, where: str) -> tuple[RouteExclusion, ...]:
    if not isinstance(spec, list):
        raise ConfigError(name, where, "expected a list")
    result = []
    for index, item in enumerate(spec):
        at = f"{where}[{index}]"
        body = _mapping(item, name, at, ("signature", "path", "reason", "added_by", "added_at", "record"))
        signature = body.get("signature")
        if not isinstance(signature, str) or not re.fullmatch(r"FW-[A-Z0-9]+-\d{3,}", signature):
            raise ConfigError(name, at + ".signature", f"a signature id like FW-SQLI-003, got {signature!r}")
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(name, at + ".reason", "every exclusion needs the reviewer's reason")
        path = _optional_str(body.get("path"), name, at + ".path")
        result.append(RouteExclusion(signature, path, reason.strip()))
    return tuple(result)


_BUCKET_ARN = re.compile(r"arn:aws[\w-]*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])")
_KMS_KEY_ARN = re.compile(r"arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:key/[\w-]+")


def _source(spec: Any, name: str, where: str) -> Source:
    body = _mapping(spec, name, where, ("queue", "bucket", "table", "prefix", "suffix", "stream_arn", "kms_key"))
    kinds = [k for k in ("queue", "bucket", "table") if k in body]
    if len(kinds) != 1:
        raise ConfigError(name, where, "name exactly one of queue, bucket or table")
    kind = kinds[0]
    value = body[kind]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(name, f"{where}.{kind}", "`new`, or the name or ARN of an existing resource")
    if kind != "bucket" and ("prefix" in body or "suffix" in body):
        raise ConfigError(name, where, "prefix and suffix apply to buckets only")
    if "stream_arn" in body and kind != "table":
        raise ConfigError(name, where, "stream_arn applies to tables only")
    existing = None if value.strip() == "new" else value.strip()
    if kind == "bucket" and existing and existing.startswith("arn:"):
        bucket_arn = _BUCKET_ARN.fullmatch(existing)
        if bucket_arn is None:
            raise ConfigError(name, f"{where}.bucket", "a bucket's name, or its ARN (arn:aws:s3:::NAME)")
        existing = bucket_arn.group(1)
    if kind == "table" and existing and not body.get("stream_arn"):
        raise ConfigError(name, where, "an existing table needs `stream_arn` (its stream must be enabled)")
    kms_key = body.get("kms_key")
    if kms_key is not None:
        if existing is None:
            raise ConfigError(name, where + ".kms_key", "applies to existing sources only: the stack encrypts its own")
        if not isinstance(kms_key, str) or not _KMS_KEY_ARN.fullmatch(kms_key.strip()):
            raise ConfigError(
                name,
                where + ".kms_key",
                "the ARN of a KMS key (arn:aws:kms:REGION:ACCOUNT:key/ID): IAM cannot grant on an alias",
            )
        kms_key = kms_key.strip()
    return Source(
        kind,
        existing,
        prefix=str(body.get("prefix", "")),
        suffix=str(body.get("suffix", "")),
        stream_arn=body.get("stream_arn"),
        kms_key=kms_key,
    )


def _target(spec: Any, name: str, where: str) -> Target:
    body = _mapping(spec, name, where, ("sample", "function"))
    if len(body) != 1:
        raise ConfigError(name, where, "name exactly one of `sample` or `function`")
    if "sample" in body:
        if body["sample"] not in SAMPLE_TARGETS:
            raise ConfigError(name, where + ".sample", f"one of {', '.join(SAMPLE_TARGETS)}")
        return Target(sample=body["sample"])
    function = body["function"]
    if not isinstance(function, str) or not function.strip():
        raise ConfigError(name, where + ".function", "the name or ARN of an existing function")
    return Target(function=function.strip())


__all__ = [
    "ConfigError",
    "FirewallConfig",
    "Route",
    "RouteExclusion",
    "RouteSettings",
    "Source",
    "Target",
    "load_config",
]
