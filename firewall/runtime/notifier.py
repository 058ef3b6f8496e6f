"""Tells operators that something was quarantined: an SNS message per record (a digest past a few
per invocation), with route, signature ids and the command to review it; never payload text."""

from __future__ import annotations

import json
from typing import Any

from ..engine.excerpt import loggable
from ..engine.model import Verdict
from ..sources.base import Record
from .errors import error_code

MAX_SINGLE_MESSAGES = 10
"""Per invocation; a flood of quarantined records becomes one digest instead of a mail storm."""


class Notifier:
    def __init__(self, sns_client: Any, topic_arn: str | None, *, route: str, bucket: str) -> None:
        self.sns = sns_client
        self.topic_arn = topic_arn
        self.route = route
        self.bucket = bucket
        self.pending: list[dict[str, Any]] = []

    def quarantined(self, record: Record, verdict: Verdict, key: str) -> None:
        if self.topic_arn:
            self.pending.append(
                {
                    "route": self.route,
                    "source": record.source,
                    "record_id": record.record_id,
                    "score": verdict.score,
                    "signatures": list(verdict.signature_ids),
                    "error": loggable(verdict.error) if verdict.error else None,
                    "quarantine_key": key,
                    "review": f"firewall quarantine show {record.record_id} --bucket {self.bucket}",
                }
            )

    def flush(self) -> list[str]:
        """Publishes what is pending; returns the problems (a failed publish never fails a record:
        the envelope is already written and the alarm on RecordsQuarantined still fires)."""
        if not self.pending or not self.topic_arn:
            return []
        pending, self.pending = self.pending, []
        messages = pending[:MAX_SINGLE_MESSAGES]
        subjects = [f"Event firewall: record quarantined on route {self.route}"] * len(messages)
        if len(pending) > MAX_SINGLE_MESSAGES:
            rest = pending[MAX_SINGLE_MESSAGES:]
            signatures = sorted({s for item in rest for s in item["signatures"]})
            messages.append(
                {
                    "route": self.route,
                    "digest": True,
                    "records": len(rest),
                    "signatures": signatures,
                    "review": f"firewall quarantine list --route {self.route} --bucket {self.bucket}",
                }
            )
            subjects.append(f"Event firewall: {len(rest)} more records quarantined on route {self.route}")
        problems = []
        for subject, message in zip(subjects, messages, strict=True):
            try:
                self.sns.publish(TopicArn=self.topic_arn, Subject=subject[:100], Message=json.dumps(message))
            except Exception as exc:
                problems.append(f"notification failed ({error_code(exc)})")
        return problems
