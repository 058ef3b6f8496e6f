"""Helpers of the quarantine review tests (the fixtures are in conftest.py): the account's buckets,
target names, signature matches, and events made from tests/events.

Envelopes are written by `firewall.runtime.quarantine.QuarantineStore.store`, exactly as the
firewall function writes them, from records that `firewall.sources.parse_event` made.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firewall.engine.model import Match, Verdict
from firewall.local.targets import LocalTargets
from firewall.review.commands import Clients
from firewall.runtime.quarantine import QuarantineStore
from firewall.sources import parse_event

REGION = "us-east-1"
ACCOUNT = "123456789012"
QUARANTINE = "fw-quarantine"
UPLOADS = "acme-uploads"
EVENTS = Path(__file__).resolve().parents[1] / "events"
CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"


def target_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def post(url: str, body: Any = None) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body or {}).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


@dataclass
class Session:
    url: str
    s3: Any
    lambda_: Any
    sts: Any
    targets: LocalTargets


@dataclass
class Account:
    """A fresh moto account: the (versioned) quarantine bucket, a versioned source bucket, targets."""

    session: Session
    clients: Clients
    stores: dict[str, QuarantineStore] = field(default_factory=dict)

    @property
    def s3(self) -> Any:
        return self.session.s3

    @property
    def targets(self) -> LocalTargets:
        return self.session.targets

    def store(self, route: str, target: str) -> QuarantineStore:
        if (route, target) not in self.stores:
            self.stores[route, target] = QuarantineStore(  # type: ignore[index]
                self.s3, QUARANTINE, route=route, target=target_arn(target), signature_set="sigset-test"
            )
        return self.stores[route, target]  # type: ignore[index]

    def quarantine(
        self,
        event: dict[str, Any],
        *,
        route: str = "orders",
        target: str = "orders-worker",
        index: int = 0,
        matches: list[Match] | None = None,
        received: datetime | None = None,
    ) -> str:
        """Write the envelope of one record of `event` as the firewall does; return its key."""
        batch = parse_event(event)
        record = batch.records[index]
        found = tuple(matches or [SQLI])
        verdict = Verdict(
            detected=True,
            action="quarantine",
            score=sum({"critical": 5, "high": 4, "medium": 3, "low": 2}[m.severity] for m in found),
            matches=found,
            record_id=record.record_id,
        )
        when = received or datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
        return self.store(route, target).store(record, verdict, source_arn=batch.source_arn, received=when)

    def envelope(self, key: str) -> dict[str, Any]:
        return dict(json.loads(self.s3.get_object(Bucket=QUARANTINE, Key=key)["Body"].read()))

    def raw(self, key: str) -> tuple[bytes, str]:
        response = self.s3.get_object(Bucket=QUARANTINE, Key=key)
        return response["Body"].read(), response["ETag"]

    def tag(self, key: str) -> str | None:
        tags = self.s3.get_object_tagging(Bucket=QUARANTINE, Key=key)["TagSet"]
        return next((t["Value"] for t in tags if t["Key"] == "firewall-status"), None)

    def exists(self, key: str, bucket: str = QUARANTINE) -> bool:
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise
        return True

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        """An object in the versioned source bucket and the S3 notification Lambda would get for it."""
        response = self.s3.put_object(Bucket=UPLOADS, Key=key, Body=body)
        event = load_event("s3_put_malicious.json")
        entry = event["Records"][0]["s3"]
        entry["bucket"]["name"] = UPLOADS
        entry["bucket"]["arn"] = f"arn:aws:s3:::{UPLOADS}"
        entry["object"].update(
            key=key,
            size=len(body),
            eTag=response["ETag"].strip('"'),
            versionId=response["VersionId"],
            sequencer=f"{time.time_ns():X}",
        )
        return event


SQLI = Match(
    "FW-SQLI-001",
    "UNION-based SQL injection",
    "sqli",
    "critical",
    "sqs.body.note",
    "…' UNION SELECT user…",
    ("url_decode", "lowercase"),
)
XSS = Match("FW-XSS-002", "Script tag", "xss", "high", "sqs.body.comment", "<script>…", ("html_entity_decode",))
TRAVERSAL = Match("FW-PATH-001", "Path traversal", "traversal", "medium", "s3.key", "../../etc/…", ())


def load_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text(encoding="utf-8")))


def sqs_event(
    message_id: str, sent: datetime, body: str = '{"note": "hello"}', queue: str = "orders"
) -> dict[str, Any]:
    event = load_event("sqs_standard_malicious.json")
    record = copy.deepcopy(event["Records"][0])
    record.update(messageId=message_id, body=body, eventSourceARN=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")
    record["attributes"]["SentTimestamp"] = str(int(sent.timestamp() * 1000))
    return {"Records": [record]}
