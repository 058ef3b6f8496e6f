"""Envelopes in the quarantine bucket, as a reviewer sees them: list (by key), read, update.

Keys are `ROUTE/YYYY/MM/DD/SOURCE/RECORD_ID.json` (see `firewall.runtime.quarantine`). Listing walks
the date folders newest first (a few `Delimiter` listings per route), so it never reads more keys
than the time range holds and never downloads an envelope that a key-level filter rules out.
Updates are conditional writes (`IfMatch` on the ETag that was read): two reviewers changing the
same envelope never lose each other's history entry.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from ..runtime.errors import aws_error_code
from ..runtime.quarantine import STATUS_TAG
from .filters import Filters, ReviewError
from .progress import Progress

ENVELOPE_KEY = re.compile(
    r"(?P<route>[^/]+)/(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/(?P<source>[^/]+)/(?P<record>[^/]+)\.json"
)
LOCK_SUFFIX = ".release-lock"
CONFLICT_CODES = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")
MISSING_CODES = ("NoSuchKey", "NoSuchVersion", "404", "NotFound")
UPDATE_ATTEMPTS = 8


error_code = aws_error_code
"""The AWS error code, or None when AWS did not answer (the review tool tells the two apart)."""


def is_missing(exc: BaseException) -> bool:
    return error_code(exc) in MISSING_CODES


def is_conflict(exc: BaseException) -> bool:
    return error_code(exc) in CONFLICT_CODES


def lock_key(envelope_key: str) -> str:
    """The release lock beside an envelope: created once, with a conditional write."""
    return envelope_key.removesuffix(".json") + LOCK_SUFFIX


@dataclass(frozen=True)
class Entry:
    """One envelope key, as listed: what the key says, without reading the envelope."""

    key: str
    route: str
    day: date
    source: str
    record_id: str
    last_modified: datetime
    size: int = 0

    @property
    def sort_key(self) -> tuple[str, str, str]:
        """Newest first is descending order of this: the record's day, then when it was written."""
        written = self.last_modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return (self.day.isoformat(), written, self.key)


def parse_key(key: str, last_modified: datetime | None = None, size: int = 0) -> Entry | None:
    """The Entry of an envelope key; None for anything else (object copies, locks, strangers)."""
    found = ENVELOPE_KEY.fullmatch(key)
    if not found:
        return None
    try:
        day = date(int(found["year"]), int(found["month"]), int(found["day"]))
    except ValueError:
        return None
    return Entry(
        key=key,
        route=found["route"],
        day=day,
        source=found["source"],
        record_id=found["record"],
        last_modified=last_modified or datetime.min.replace(tzinfo=UTC),
        size=size,
    )


def encode_token(entry: Entry) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(entry.sort_key)).encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[str, str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(data, list) and len(data) == 3 and all(isinstance(part, str) for part in data):
            return (data[0], data[1], data[2])
    except (ValueError, binascii.Error):
        pass
    raise ReviewError(f"invalid page token {token[:40]!r}: pass the next_page_token of an earlier listing")


@dataclass
class Stored:
    """An envelope as read: its key, content, ETag (for conditional updates) and encryption."""

    key: str
    envelope: dict[str, Any]
    etag: str
    encryption: dict[str, str]

    @property
    def status(self) -> str:
        return str(self.envelope.get("status", "pending"))


class ReviewStore:
    def __init__(self, s3_client: Any, bucket: str, *, workers: int = 8) -> None:
        self.s3 = s3_client
        self.bucket = bucket
        self.workers = workers
        self.unreadable: list[str] = []
        """Keys a listing met that hold no readable envelope (`read_many` skips them)."""

    # -- listing -----------------------------------------------------------------------------

    def _folders(self, prefix: str) -> list[str]:
        """The next folder names under `prefix` (one `Delimiter` listing, paginated)."""
        names = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.append(common["Prefix"][len(prefix) :].rstrip("/"))
        return names

    def routes(self) -> list[str]:
        return sorted(self._folders(""))

    def days(self, filters: Filters, progress: Progress | None = None) -> dict[date, list[str]]:
        """The days (newest first) holding envelopes of each selected route, pruned by the time range."""
        first, last = filters.first_day, filters.last_day
        found: dict[date, list[str]] = defaultdict(list)
        for route in sorted(filters.routes) or self.routes():
            for year in self._folders(f"{route}/"):
                if not (len(year) == 4 and year.isdigit()):
                    continue
                if (first and int(year) < first.year) or (last and int(year) > last.year):
                    continue
                for month in self._folders(f"{route}/{year}/"):
                    if not (len(month) == 2 and month.isdigit()):
                        continue
                    ym = (int(year), int(month))
                    if (first and ym < (first.year, first.month)) or (last and ym > (last.year, last.month)):
                        continue
                    for day_name in self._folders(f"{route}/{year}/{month}/"):
                        try:
                            day = date(ym[0], ym[1], int(day_name))
                        except ValueError:
                            continue
                        if filters.day_in_range(day):
                            found[day].append(route)
                            if progress:
                                progress.day()
        return dict(sorted(found.items(), reverse=True))

    def list_prefix(self, prefix: str, progress: Progress | None = None) -> Iterator[Entry]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            contents = page.get("Contents", [])
            if progress:
                progress.listed(len(contents))
            for item in contents:
                entry = parse_key(item["Key"], item.get("LastModified"), int(item.get("Size", 0)))
                if entry is not None:
                    yield entry

    def entries(
        self,
        filters: Filters,
        *,
        after: tuple[str, str, str] | None = None,
        progress: Progress | None = None,
    ) -> Iterator[Entry]:
        """Envelope keys that pass the key-level filters, newest first (see `Entry.sort_key`);
        with `after`, only those that come after that position (the next page)."""
        for day, routes in self.days(filters, progress).items():
            if after is not None and day.isoformat() > after[0]:
                continue
            found: list[Entry] = []
            for route in routes:
                base = f"{route}/{day:%Y/%m/%d}/"
                prefixes = [f"{base}{source}/" for source in sorted(filters.sources)] or [base]
                for prefix in prefixes:
                    listed = self.list_prefix(prefix, progress)
                    found.extend(e for e in listed if filters.key_match(e.route, e.source, e.day))
            found.sort(key=lambda e: e.sort_key, reverse=True)
            for entry in found:
                if after is None or entry.sort_key < after:
                    yield entry

    def resolve(
        self, refs: Iterable[str], filters: Filters | None = None, progress: Progress | None = None
    ) -> list[str]:
        """Envelope keys for record ids or keys (`KEY`, `s3://BUCKET/KEY`), in the order given.

        A record id is looked up by listing keys (optionally narrowed by route, source and time);
        an id found under more than one key is an error that names them all.
        """
        refs = list(refs)
        keys: dict[str, str] = {}
        wanted: set[str] = set()
        for ref in refs:
            if ref.startswith("s3://"):
                bucket, _, key = ref[5:].partition("/")
                if bucket != self.bucket:
                    raise ReviewError(f"{ref} is not in the quarantine bucket {self.bucket}")
                keys[ref] = key if key.endswith(".json") else key + ".json"
            elif "/" in ref:
                keys[ref] = ref if ref.endswith(".json") else ref + ".json"
            else:
                wanted.add(ref)
        if wanted:
            found: dict[str, list[str]] = defaultdict(list)
            for entry in self.entries(filters or Filters(), progress=progress):
                if entry.record_id in wanted:
                    found[entry.record_id].append(entry.key)
            if progress:
                progress.done()
            for ref in sorted(wanted):
                if not found.get(ref):
                    raise ReviewError(f"no quarantined record {ref!r} in s3://{self.bucket}")
                if len(found[ref]) > 1:
                    listed = ", ".join(sorted(found[ref]))
                    raise ReviewError(f"record id {ref!r} names {len(found[ref])} envelopes ({listed}): pass the key")
                keys[ref] = found[ref][0]
        return [keys[ref] for ref in refs]

    # -- reading -----------------------------------------------------------------------------

    def try_read(self, key: str) -> Stored | None:
        """The envelope at `key`, or None when there is none (any other error raises)."""
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if is_missing(exc):
                return None
            raise
        body = response["Body"].read()
        try:
            envelope = json.loads(body)
        except (ValueError, RecursionError):
            raise ReviewError(f"s3://{self.bucket}/{key} is not a JSON envelope") from None
        if not isinstance(envelope, dict):
            raise ReviewError(f"s3://{self.bucket}/{key} is not a JSON envelope")
        encryption = {}
        if response.get("ServerSideEncryption") == "aws:kms":
            encryption["ServerSideEncryption"] = "aws:kms"
            if response.get("SSEKMSKeyId"):
                encryption["SSEKMSKeyId"] = str(response["SSEKMSKeyId"])
        return Stored(key, envelope, str(response.get("ETag", "")), encryption)

    def read_lock(self, key: str) -> dict[str, Any] | None:
        """The release lock beside the envelope at `key` (None: no release holds it; {}: unreadable)."""
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=lock_key(key))
        except Exception as exc:
            if is_missing(exc):
                return None
            raise
        try:
            lock = json.loads(response["Body"].read())
        except ValueError:
            return {}
        return lock if isinstance(lock, dict) else {}

    def read(self, key: str) -> Stored:
        stored = self.try_read(key)
        if stored is None:
            raise ReviewError(f"no envelope at s3://{self.bucket}/{key}")
        return stored

    def read_many(self, keys: list[str], progress: Progress | None = None) -> list[Stored | None]:
        """Envelopes read in a small thread pool, in the order of `keys` (None where gone)."""
        if not keys:
            return []

        def one(key: str) -> Stored | None:
            try:
                stored = self.try_read(key)
            except ReviewError:  # a listing shows the others; the command warns of this one
                self.unreadable.append(key)
                stored = None
            if progress:
                progress.read()
            return stored

        if len(keys) == 1 or self.workers <= 1:
            return [one(key) for key in keys]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(keys)), thread_name_prefix="envelope") as pool:
            return list(pool.map(one, keys))

    # -- writing -----------------------------------------------------------------------------

    def update(self, key: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Stored:
        """Apply `change` to the current envelope and write it back only if nobody wrote in between
        (`IfMatch`); on a conflict, read again and re-apply. `change` returns None: nothing to write.
        The status tag follows the envelope's status."""
        for _ in range(UPDATE_ATTEMPTS):
            stored = self.read(key)
            changed = change(copy.deepcopy(stored.envelope))
            if changed is None:
                return stored
            status = str(changed.get("status", "pending"))
            try:
                response = self.s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=json.dumps(changed, ensure_ascii=False, default=str).encode("utf-8"),
                    ContentType="application/json",
                    Tagging=self._tagging(key, status),
                    IfMatch=stored.etag,
                    **stored.encryption,
                )
            except Exception as exc:
                if is_conflict(exc) or is_missing(exc):
                    continue
                raise
            return Stored(key, changed, str(response.get("ETag", "")), stored.encryption)
        raise ReviewError(f"s3://{self.bucket}/{key} kept changing while it was updated; try again")

    def _tagging(self, key: str, status: str) -> str:
        """The object's tags with the status tag set (other tags, e.g. for lifecycle rules, kept)."""
        tags = self._tags(key)
        tags[STATUS_TAG] = status
        return urlencode(tags)

    def _tags(self, key: str) -> dict[str, str]:
        try:
            response = self.s3.get_object_tagging(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if is_missing(exc):
                return {}
            raise
        return {str(t["Key"]): str(t["Value"]) for t in response.get("TagSet", [])}

    def tag_status(self, key: str, status: str) -> bool:
        """Set the status tag of an object copy; False when the copy no longer exists."""
        tags = self._tags(key)
        tags[STATUS_TAG] = status
        try:
            self.s3.put_object_tagging(
                Bucket=self.bucket,
                Key=key,
                Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
            )
        except Exception as exc:
            if is_missing(exc):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        """Delete the current object (a versioned bucket keeps a noncurrent version until its
        lifecycle rule or object lock retention lets it go)."""
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def check(self) -> None:
        """A clear error when the bucket cannot be reached, before any other request."""
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            code = error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise ReviewError(f"quarantine bucket {self.bucket!r} does not exist") from None
            if code in ("403", "AccessDenied"):
                raise ReviewError(f"access to the quarantine bucket {self.bucket!r} is denied") from None
            raise
