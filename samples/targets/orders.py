"""Sample target: an order processor fed by an SQS queue (behind the firewall it needs no change)."""

from __future__ import annotations

import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            order = json.loads(record["body"])
            print(json.dumps({"message": "order accepted", "order": order.get("orderId")}))
        except (ValueError, TypeError, AttributeError):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
