"""Sample target: indexes profile changes from a DynamoDB stream."""

from __future__ import annotations

import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for record in event.get("Records", []):
        keys = record.get("dynamodb", {}).get("Keys", {})
        print(json.dumps({"message": "profile indexed", "event": record.get("eventName"), "keys": keys}))
    return {"batchItemFailures": []}
