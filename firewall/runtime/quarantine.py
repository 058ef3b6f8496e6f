"""The quarantine store: one JSON envelope per record (and a copy of S3 objects) in S3.

Keys are deterministic (route, the record's own event date, source, record id), so a redelivered
record overwrites its envelope instead of piling up duplicates. The function may only write here:
it never reads or deletes, which the IAM policy of the CDK construct enforces.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .. import __version__
from ..engine.model import Verdict
from ..sources.base import Record
from .errors import MISSING_OBJECT_CODES, error_code

SCHEMA_VERSION = 1
STATUS_TAG = "firewall-status"


def record_time(record: Record, fallback: datetime) -> datetime:
    """When the source says the record was created; the key's date must not depend on retries."""
    raw = record.raw
    try:
        if "attributes" in raw and "SentTimestamp" in raw["attributes"]:
            return datetime.fromtimestamp(int(raw["attributes"]["SentTimestamp"]) / 1000, UTC)
        if "dynamodb" in raw and "ApproximateCreationDateTime" in raw["dynamodb"]:
            return datetime.fromtimestamp(float(raw["dynamodb"]["ApproximateCreationDateTime"]), UTC)
        if "kinesis" in raw and "approximateArrivalTimestamp" in raw["kinesis"]:
            return datetime.fromtimestamp(float(raw["kinesis"]["approximateArrivalTimestamp"]), UTC)
        for text in (raw.get("eventTime"), raw.get("Sns", {}).get("Timestamp"), raw.get("time")):
            if isinstance(text, str):
                return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except (TypeError, ValueError, OverflowError, AttributeError):
        pass
    return fallback


def envelope_key(route: str, record: Record, when: datetime) -> str:
    return f"{route}/{when:%Y/%m/%d}/{record.source}/{record.record_id}.json"


def object_copy_key(envelope: str, index: int) -> str:
    return envelope.removesuffix(".json") + (".object" if index == 0 else f".object{index}")


ALREADY_WRITTEN = "PreconditionFailed"
"""S3's answer to a write with `If-None-Match: *` when the key exists."""


def takes_parameter(client: Any, operation: str, parameter: str) -> bool:
    """Whether the client's API model knows `parameter` of `operation`: an older botocore refuses
    an unknown one before sending anything."""
    try:
        return parameter in client.meta.service_model.operation_model(operation).input_shape.members
    except Exception:  # not a botocore client, or no such operation: assume not
        return False


class QuarantineStore:
    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        *,
        route: str,
        target: str,
        signature_set: str,
        kms_key: str | None = None,
    ) -> None:
        self.s3 = s3_client
        self.bucket = bucket
        self.route = route
        self.target = target
        self.signature_set = signature_set
        self.kms_key = kms_key
        self._conditional_copies = takes_parameter(s3_client, "CopyObject", "IfNoneMatch")

    def _encryption(self) -> dict[str, str]:
        """The route's KMS key when set; otherwise the bucket's default encryption applies (naming
        `aws:kms` without a key would silently switch to the AWS-managed key)."""
        if self.kms_key:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key}
        return {}

    def _copy(self, copy_key: str, copy_source: dict[str, str]) -> None:
        """Copy an object beside its envelope, only where no copy is yet (If-None-Match: *). Where
        the SDK the runtime carries predates that parameter of CopyObject (botocore before 1.41),
        or S3 answers 501 Not Implemented to it, the copy is made as before, unconditionally: a
        copy replaced on redelivery is better than a record that can never be quarantined."""
        while True:
            condition = {"IfNoneMatch": "*"} if self._conditional_copies else {}
            try:
                self.s3.copy_object(
                    Bucket=self.bucket,
                    Key=copy_key,
                    CopySource=copy_source,
                    TaggingDirective="REPLACE",
                    Tagging=f"{STATUS_TAG}=pending",
                    **condition,
                    **self._encryption(),
                )
                return
            except Exception as exc:
                if not condition or error_code(exc) != "NotImplemented":
                    raise
                self._conditional_copies = False

    def store(self, record: Record, verdict: Verdict, *, source_arn: str | None, received: datetime) -> str:
        """Copies the record's S3 objects, then writes the envelope; returns the envelope key. A
        record delivered again finds its copies and envelope written (the keys are the record's
        own): those are kept, with their evidence and review status (an object replaced in an
        unversioned bucket since does not replace its copy), and the record counts as quarantined.

        Raises (botocore errors) when anything could not be written: the caller must then report the
        record as failed so that AWS delivers it again.
        """
        key = envelope_key(self.route, record, record_time(record, received))
        copies = []
        for index, (bucket, object_key, version) in enumerate(record.s3_objects):
            copy_key = object_copy_key(key, index)
            copy_source = {"Bucket": bucket, "Key": object_key} | ({"VersionId": version} if version else {})
            try:
                self._copy(copy_key, copy_source)
            except Exception as exc:
                code = error_code(exc)
                if code in MISSING_OBJECT_CODES | {"NoSuchBucket"}:
                    copies.append(
                        {
                            "bucket": bucket,
                            "key": object_key,
                            "version_id": version,
                            "copy_key": None,
                            "note": "object no longer exists",
                        }
                    )
                    continue
                if code != ALREADY_WRITTEN:  # else copied at an earlier delivery: that copy stays
                    raise
            copies.append({"bucket": bucket, "key": object_key, "version_id": version, "copy_key": copy_key})
        envelope = {
            "schema_version": SCHEMA_VERSION,
            "route": self.route,
            "source": record.source,
            "source_arn": source_arn,
            "target": self.target,
            "record_id": record.record_id,
            "received_at": received.isoformat().replace("+00:00", "Z"),
            "status": "pending",
            "record": record.raw,
            "objects": copies,
            "verdict": verdict.to_dict(),
            "signature_set": self.signature_set,
            "firewall_version": __version__,
            "history": [],
        }
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(envelope, ensure_ascii=False, default=str).encode("utf-8"),
                ContentType="application/json",
                Tagging=f"{STATUS_TAG}=pending",
                IfNoneMatch="*",
                **self._encryption(),
            )
        except Exception as exc:
            if error_code(exc) != ALREADY_WRITTEN:
                raise
        return key
