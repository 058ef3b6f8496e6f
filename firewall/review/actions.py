"""What every reviewer action shares (who, when, the outcome), and `delete`.

Every action that changes an envelope appends one history entry `{action, by, at, reason, ...}`:
`by` is the caller's ARN from STS (`unknown` when STS cannot say), `at` an ISO time in UTC.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .filters import ReviewError
from .store import ReviewStore

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def caller_arn(sts_client: Any) -> str:
    """Who is acting, as AWS sees it; `unknown` when STS cannot be asked."""
    try:
        return str(sts_client.get_caller_identity()["Arn"])
    except Exception:
        return "unknown"


def local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "unknown"


def history_entry(action: str, *, by: str, at: datetime, reason: str, **details: Any) -> dict[str, Any]:
    return {"action": action, "by": by, "at": iso(at), "reason": reason, **details}


@dataclass
class Outcome:
    """The result of one action on one envelope."""

    key: str
    record_id: str
    result: str
    """released, already released, would release, deleted, already deleted, would delete, failed"""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.result != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "record_id": self.record_id,
            "result": self.result,
            "ok": self.ok,
            "detail": self.detail,
        }


def require_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReviewError("--reason is required: say why, it is kept in the envelope's history")
    return text


class Deleter:
    """`delete`: the object copies are removed, the envelope stays as the audit record."""

    def __init__(self, store: ReviewStore, *, identity: str, clock: Clock = utc_now) -> None:
        self.store = store
        self.identity = identity
        self.clock = clock

    def delete(self, key: str, reason: str, *, dry_run: bool = False) -> Outcome:
        stored = self.store.read(key)
        record_id = str(stored.envelope.get("record_id", ""))
        if stored.status == "deleted":
            return Outcome(key, record_id, "already deleted", _last(stored.envelope, "delete"))
        problem = envelope_problem(key, stored.envelope)
        if problem:
            return Outcome(key, record_id, "failed", problem + "; nothing was deleted")
        lock = self.store.read_lock(key) if stored.status == "pending" else None
        if lock is not None:
            detail = f"a release by {lock.get('by')} holds the lock (state {lock.get('state')!r}); nothing was deleted"
            return Outcome(key, record_id, "failed", detail)
        copies = [str(o["copy_key"]) for o in stored.envelope.get("objects") or [] if o.get("copy_key")]
        stem = key.removesuffix(".json") + ".object"
        outside = [c for c in copies if not c.startswith(stem)]
        if outside:
            detail = f"the envelope names a copy outside its own keys ({outside[0][:80]}); nothing was deleted"
            return Outcome(key, record_id, "failed", detail)
        where = ", ".join(f"s3://{self.store.bucket}/{c}" for c in copies) or "no object copies"
        if dry_run:
            return Outcome(key, record_id, "would delete", f"would remove {where}; the envelope would stay")
        for copy_key in copies:
            self.store.delete(copy_key)
        entry = history_entry(
            "delete", by=self.identity, at=self.clock(), reason=reason, removed=copies, previous_status=stored.status
        )

        def change(envelope: dict[str, Any]) -> dict[str, Any] | None:
            if envelope.get("status") == "deleted":
                return None
            envelope["status"] = "deleted"
            envelope.setdefault("history", []).append(entry)
            return envelope

        self.store.update(key, change)
        return Outcome(key, record_id, "deleted", f"removed {where}; envelope kept with status deleted")


def _last(envelope: dict[str, Any], action: str) -> str:
    for entry in reversed(envelope.get("history") or []):
        if isinstance(entry, dict) and entry.get("action") == action:
            return f"by {entry.get('by')} at {entry.get('at')}"
    return ""


def envelope_problem(key: str, envelope: dict[str, Any]) -> str | None:
    """Why the envelope at `key` cannot be acted on: a schema this version does not know, fields of
    the wrong type, or a route, source or record id that disagrees with the key the firewall gave
    it (an envelope edited or copied into place would otherwise release to the target it names)."""
    from ..runtime.quarantine import SCHEMA_VERSION

    if envelope.get("schema_version") != SCHEMA_VERSION:
        return f"the envelope's schema_version {envelope.get('schema_version')!r} is not {SCHEMA_VERSION}"
    if not isinstance(envelope.get("objects", []), list) or not all(
        isinstance(obj, dict) for obj in envelope.get("objects") or []
    ):
        return "the envelope's objects are not a list of objects"
    if not isinstance(envelope.get("history", []), list):
        return "the envelope's history is not a list"
    parts = key.split("/")
    source = parts[-2] if len(parts) > 1 else ""
    expected = {"route": parts[0], "source": source, "record_id": parts[-1].removesuffix(".json")}
    for name, value in expected.items():
        if envelope.get(name) != value:
            return f"the envelope's {name} {str(envelope.get(name))[:64]!r} does not match its key"
    return None
