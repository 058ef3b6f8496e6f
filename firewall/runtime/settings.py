"""Settings of one firewall function, read once at cold start from its environment.

An unknown or invalid value stops the cold start with a message naming the variable, so that a
misconfigured deployment fails loudly on its first invocation instead of judging events wrongly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..engine.errors import FirewallError
from ..engine.model import MODES, ON_ERROR_POLICIES, PARANOIA_LEVELS, Exclusion

PREFIX = "FIREWALL_"
DEFAULT_MAX_BYTES = 1_048_576


class SettingsError(FirewallError):
    """An environment variable of the firewall function is missing or invalid."""


@dataclass(frozen=True)
class Settings:
    route: str
    target: str
    quarantine_bucket: str
    mode: str = "enforce"
    paranoia: int = 1
    on_error: str = "quarantine"
    on_oversize: str = "quarantine"
    max_bytes: int = DEFAULT_MAX_BYTES
    budget_ms: int = 2000
    """Time one record's inspection may take; past it the record follows `on_error`."""
    target_timeout_ms: int = 0
    """The target's timeout: a synchronous forward needs this much time left (0: not known)."""
    include_old_image: bool = False
    inspect_object_metadata: bool = False
    """S3 routes: also read user metadata and tags (one extra HEAD and GetObjectTagging per object)."""
    quarantine_kms_key: str | None = None
    notify_topic: str | None = None
    """SNS topic told of every quarantined record (route, signature ids, review command; no payload)."""
    signatures: str | None = None
    """A signature directory; default: the set bundled beside the package."""
    exclusions: tuple[Exclusion, ...] = ()
    """Reviewed false positives, JSON: [{"signature": "FW-SQLI-003", "path": "sqs.body.note"}]."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        known = {PREFIX + name.upper() for name in cls.__dataclass_fields__}
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known)
        if unknown:
            raise SettingsError(f"unknown setting {unknown[0]} (known: {', '.join(sorted(known))})")
        on_error = _choice(env, "ON_ERROR", ON_ERROR_POLICIES, "quarantine")
        return cls(
            route=_required(env, "ROUTE"),
            target=_required(env, "TARGET"),
            quarantine_bucket=_required(env, "QUARANTINE_BUCKET"),
            mode=_choice(env, "MODE", MODES, "enforce"),
            paranoia=_integer(env, "PARANOIA", 1, minimum=min(PARANOIA_LEVELS), maximum=max(PARANOIA_LEVELS)),
            on_error=on_error,
            on_oversize=_choice(env, "ON_OVERSIZE", ON_ERROR_POLICIES, on_error),
            max_bytes=_integer(env, "MAX_BYTES", DEFAULT_MAX_BYTES, minimum=1, maximum=64 * 1024 * 1024),
            budget_ms=_integer(env, "BUDGET_MS", 2000, minimum=10, maximum=600_000),
            target_timeout_ms=_integer(env, "TARGET_TIMEOUT_MS", 0, minimum=0, maximum=900_000),
            include_old_image=_boolean(env, "INCLUDE_OLD_IMAGE"),
            inspect_object_metadata=_boolean(env, "INSPECT_OBJECT_METADATA"),
            quarantine_kms_key=env.get(PREFIX + "QUARANTINE_KMS_KEY") or None,
            notify_topic=env.get(PREFIX + "NOTIFY_TOPIC") or None,
            signatures=env.get(PREFIX + "SIGNATURES") or None,
            exclusions=_exclusions(env),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(PREFIX + name, "").strip()
    if not value:
        raise SettingsError(f"{PREFIX}{name} is required and not set")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(PREFIX + name, default).strip().lower() or default
    if value not in allowed:
        raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(PREFIX + name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{PREFIX}{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _boolean(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(PREFIX + name, "false").strip().lower()
    if raw not in ("true", "false", "1", "0", ""):
        raise SettingsError(f"{PREFIX}{name} must be true or false, got {raw!r}")
    return raw in ("true", "1")


def _exclusions(env: Mapping[str, str]) -> tuple[Exclusion, ...]:
    raw = env.get(PREFIX + "EXCLUSIONS", "").strip()
    if not raw:
        return ()
    try:
        items = json.loads(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}EXCLUSIONS must be a JSON list") from None
    exclusions = []
    for item in items if isinstance(items, list) else [None]:
        if not isinstance(item, dict) or not isinstance(item.get("signature"), str):
            raise SettingsError(f'{PREFIX}EXCLUSIONS entries look like {{"signature": "FW-...", "path": "glob"}}')
        path = item.get("path")
        if path is not None and not isinstance(path, str):
            raise SettingsError(f"{PREFIX}EXCLUSIONS: path must be a string")
        exclusions.append(Exclusion(item["signature"], path))
    return tuple(exclusions)
