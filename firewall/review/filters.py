"""What `list`, `stats` and `export` select: filters on the key (cheap) and on the envelope.

A key `ROUTE/YYYY/MM/DD/SOURCE/RECORD_ID.json` names the route, the day of the record's own event
time and the source, so those filters never need the envelope. Signature, family, severity, status
and a time bound that falls inside a day do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..engine.errors import FirewallError
from ..runtime.quarantine import record_time
from ..sources.base import Record

STATUSES = ("pending", "released", "deleted")
SEVERITIES = ("critical", "high", "medium", "low")
_RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ReviewError(FirewallError):
    """A reviewer's request that cannot be carried out (bad input, unknown record, missing bucket)."""


def parse_time(text: str, *, now: datetime, end_of_day: bool = False) -> datetime:
    """`24h`, `7d`, `30m`, `2w` (before now), an ISO date or an ISO time (UTC unless it says).

    A bare date is that day's start, or with `end_of_day` the next day's start (an `--until` date
    includes the whole day).
    """
    value = text.strip()
    relative = _RELATIVE.fullmatch(value.lower())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        try:
            return now - timedelta(**{_UNITS[unit]: amount})
        except OverflowError:
            raise ReviewError(f"the time {text!r} lies before the year 1") from None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ReviewError(
            f"cannot read the time {text!r}: use an ISO date or time (2026-11-29, 2026-11-29T10:00Z) "
            "or a duration before now (30m, 24h, 7d, 2w)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def choices(values: Iterable[str] | None) -> frozenset[str]:
    """Repeated or comma-separated option values as one set (empty: no filter)."""
    found: set[str] = set()
    for value in values or ():
        found.update(part.strip() for part in value.split(",") if part.strip())
    return frozenset(found)


def envelope_time(envelope: dict[str, Any]) -> datetime | None:
    """The record's own event time (what the key's date is made of), else when it was received."""
    received = _iso(envelope.get("received_at"))
    raw = envelope.get("record")
    if isinstance(raw, dict):
        fallback = received or datetime.min.replace(tzinfo=UTC)
        found = record_time(Record(source=str(envelope.get("source")), record_id="", raw=raw), fallback)
        if found != datetime.min.replace(tzinfo=UTC):
            return found
    return received


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def matches_of(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    verdict = envelope.get("verdict")
    found = verdict.get("matches") if isinstance(verdict, dict) else None
    return [m for m in found or [] if isinstance(m, dict)]


@dataclass(frozen=True)
class Filters:
    routes: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    signatures: frozenset[str] = frozenset()
    families: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""

    # -- on the key ------------------------------------------------------------------------------

    @property
    def first_day(self) -> date | None:
        return self.since.date() if self.since else None

    @property
    def last_day(self) -> date | None:
        """The last day that can hold a record before `until` (exclusive)."""
        return (self.until - timedelta(microseconds=1)).date() if self.until else None

    def day_in_range(self, day: date) -> bool:
        return (self.first_day is None or day >= self.first_day) and (self.last_day is None or day <= self.last_day)

    def needs_time_check(self, day: date) -> bool:
        """The day is only partly inside [since, until): the envelope's time decides."""
        since_inside = self.since is not None and day == self.since.date() and self.since.time() != datetime.min.time()
        until_inside = self.until is not None and day == self.last_day and self.until.time() != datetime.min.time()
        return since_inside or until_inside

    def key_match(self, route: str, source: str, day: date) -> bool:
        return (
            (not self.routes or route in self.routes)
            and (not self.sources or source in self.sources)
            and self.day_in_range(day)
        )

    # -- on the envelope -----------------------------------------------------------------------

    @property
    def needs_envelope(self) -> bool:
        return bool(self.signatures or self.families or self.severities or self.statuses)

    def envelope_match(self, envelope: dict[str, Any], *, check_time: bool) -> bool:
        if self.statuses and envelope.get("status") not in self.statuses:
            return False
        matches = matches_of(envelope)
        if self.signatures and not any(m.get("signature_id") in self.signatures for m in matches):
            return False
        if self.families and not any(m.get("category") in self.families for m in matches):
            return False
        if self.severities and not any(m.get("severity") in self.severities for m in matches):
            return False
        if check_time:
            when = envelope_time(envelope)
            if when is None:
                return True  # no time to judge by: the key's day already matched
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when >= self.until:
                return False
        return True
