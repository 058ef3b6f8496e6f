"""Audit trail: one structured JSON log line per record, and CloudWatch metrics in Embedded Metric
Format (EMF) printed to standard output, where Lambda's log agent turns them into metrics.

Hand-written rather than Powertools' Logger and Metrics: the whole job is a few JSON documents,
and keeping the bundle to regex, PyYAML and pyahocorasick keeps the cold start short.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..engine.excerpt import loggable
from ..engine.model import Verdict

NAMESPACE = "EventFirewall"
MAX_METRICS_PER_DOCUMENT = 100
Writer = Callable[[str], None]


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Audit:
    """Collects one invocation's outcomes; `flush` writes the metrics."""

    def __init__(self, route: str, writer: Writer = _stdout) -> None:
        self.route = route
        self.write = writer
        self.counts: Counter[str] = Counter()
        self.signature_hits: Counter[str] = Counter()
        self.inspection_ms = 0.0

    def record(
        self,
        *,
        source: str,
        record_id: str,
        verdict: Verdict,
        outcome: str,
        latency_ms: float,
        reason: str | None = None,
    ) -> None:
        """`outcome` is what happened: forwarded, quarantined or failed (retried by AWS)."""
        self.counts["RecordsInspected"] += 1
        self.counts[_OUTCOME_METRIC.get(outcome, "RecordsFailed")] += 1
        if verdict.detected:
            self.counts["RecordsDetected"] += 1
        if verdict.error:
            self.counts["InspectionErrors"] += 1
        self.signature_hits.update(verdict.signature_ids)
        self.inspection_ms += latency_ms
        line: dict[str, Any] = {
            "level": "WARNING" if outcome != "forwarded" or verdict.detected else "INFO",
            "message": "record " + outcome,
            "route": self.route,
            "source": source,
            "record_id": record_id,
            "outcome": outcome,
            "action": verdict.action,
            "detected": verdict.detected,
            "score": verdict.score,
            "signatures": list(verdict.signature_ids),
            "matches": [
                {"id": m.signature_id, "path": loggable(m.path), "excerpt": m.excerpt} for m in verdict.matches
            ],
            "latency_ms": round(latency_ms, 3),
        }
        if verdict.error:
            line["inspection_error"] = loggable(verdict.error)
        if reason:
            line["reason"] = reason
        self.write(json.dumps(line, ensure_ascii=False))

    def event(self, level: str, message: str, **details: Any) -> None:
        self.write(json.dumps({"level": level, "message": message, "route": self.route, **details}))

    def flush(self, now_ms: int | None = None) -> None:
        """Writes the invocation's metrics (route totals, then hits per signature) and resets."""
        timestamp = int(time.time() * 1000) if now_ms is None else now_ms
        totals: dict[str, float] = {name: float(self.counts.get(name, 0)) for name in METRIC_NAMES}
        totals["InspectionTime"] = round(self.inspection_ms, 3)
        self.write(_emf(timestamp, {"Route": self.route}, totals))
        for signature_id, hits in sorted(self.signature_hits.items()):
            self.write(_emf(timestamp, {"Route": self.route, "SignatureId": signature_id}, {"SignatureHits": hits}))
        self.counts.clear()
        self.signature_hits.clear()
        self.inspection_ms = 0.0


_OUTCOME_METRIC = {"forwarded": "RecordsForwarded", "quarantined": "RecordsQuarantined"}
METRIC_NAMES = (
    "RecordsInspected",
    "RecordsForwarded",
    "RecordsQuarantined",
    "RecordsFailed",
    "RecordsDetected",
    "InspectionErrors",
)


def _emf(timestamp: int, dimensions: dict[str, str], values: dict[str, float]) -> str:
    units = {name: ("Milliseconds" if name == "InspectionTime" else "Count") for name in values}
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": n, "Unit": units[n]} for n in list(values)[:MAX_METRICS_PER_DOCUMENT]],
                }
            ],
        },
        **dimensions,
        **values,
    }
    return json.dumps(document)
