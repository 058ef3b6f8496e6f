"""Sample target: makes thumbnails of uploads announced by S3 notifications."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    for record in event.get("Records", []):
        key = unquote_plus(record["s3"]["object"]["key"])
        print(json.dumps({"message": "thumbnail queued", "bucket": record["s3"]["bucket"]["name"], "key": key}))
    return {"processed": len(event.get("Records", []))}
