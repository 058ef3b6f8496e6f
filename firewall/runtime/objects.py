"""Reading S3 objects for inspection: one ranged GET capped at the route's byte limit."""

from __future__ import annotations

from typing import Any

from ..sources.base import Field
from ..sources.s3_object import ObjectContent, decode_object
from .errors import MISSING_OBJECT_CODES, error_code


class ObjectReader:
    def __init__(self, s3_client: Any, max_bytes: int, *, with_metadata: bool = False) -> None:
        self.s3 = s3_client
        self.max_bytes = max_bytes
        self.with_metadata = with_metadata

    def read(self, bucket: str, key: str, version_id: str | None) -> ObjectContent:
        """The object's fields. A missing object yields none (nothing left to harm a consumer);
        other read errors raise, so the record is retried rather than judged unread."""
        version = {"VersionId": version_id} if version_id else {}
        try:
            response = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{self.max_bytes - 1}", **version)
        except Exception as exc:
            code = error_code(exc)
            if code in MISSING_OBJECT_CODES:
                return ObjectContent(problems=[])
            if code == "InvalidRange":  # an empty object
                return ObjectContent()
            raise
        with response["Body"] as body:
            data = body.read(self.max_bytes)
        total = _total_size(response.get("ContentRange"), len(data))
        content = decode_object(
            key,
            data,
            content_type=response.get("ContentType") or "",
            max_bytes=self.max_bytes,
            truncated=total > self.max_bytes,
        )
        for name, value in (response.get("Metadata") or {}).items() if self.with_metadata else ():
            content.fields.append(Field(f"s3.metadata.{name}", value))
            content.fields.append(Field("s3.metadata.{}", name))
        if self.with_metadata:
            tags = self.s3.get_object_tagging(Bucket=bucket, Key=key, **version).get("TagSet", [])
            for tag in tags:
                content.fields.append(Field(f"s3.tags.{tag['Key']}", tag["Value"]))
                content.fields.append(Field("s3.tags.{}", tag["Key"]))
        return content


def _total_size(content_range: str | None, read: int) -> int:
    """`bytes 0-99/5000` -> 5000; without a range header the whole object was returned."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return read
