"""Pollers: what Lambda's event source mappings and S3's asynchronous invocations do, done here.

- SQS: receive a batch, invoke, delete what succeeded; with ReportBatchItemFailures only the
  messages the function did not name are deleted. Failed messages reappear when their visibility
  timeout ends (shortened here to RETRY_DELAY seconds); the queue's redrive policy applies as usual.
- DynamoDB streams: shard iterators from the mapping's starting position; a batch is retried from
  the first failed sequence number, halved on function errors when the mapping bisects, and sent to
  the on-failure destination once its retries or record age are exhausted.
- S3: the bucket's notifications arrive through a queue; each becomes one asynchronous invocation,
  retried (after RETRY_DELAY instead of minutes) up to the configured attempts, then sent to the
  on-failure destination.

Every poller remembers the records it delivered (`delivered`), which the accounting compares with
what reached the targets and the quarantine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from . import shapes
from .account import BucketSource, QueueSource, Route, StreamSource
from .functions import FirewallFunction, Outcome

RETRY_DELAY = 1
"""Seconds before a failed message or event is delivered again (AWS: the visibility timeout, or
one then two minutes for asynchronous retries)."""


@dataclass
class Delivery:
    """A record handed to a firewall function (possibly more than once)."""

    route: str
    record: dict[str, Any]
    attempts: int = 1


@dataclass
class Poller:
    route: Route
    function: FirewallFunction
    clients: Any
    delivered: dict[str, Delivery] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    dead_lettered: int = 0
    on_invoke: Callable[[Route, Outcome], None] | None = None

    def poll(self) -> int:
        """One round: deliver what is waiting; returns the number of records delivered."""
        raise NotImplementedError

    def idle(self) -> bool:
        """Nothing waiting and nothing in flight (checked when a round delivered nothing)."""
        raise NotImplementedError

    def _invoke(self, event: dict[str, Any], ids: list[str]) -> Outcome:
        for identity, record in zip(ids, event["Records"], strict=True):
            if identity in self.delivered:
                self.delivered[identity].attempts += 1
            else:
                self.delivered[identity] = Delivery(self.route.name, record)
        outcome = self.function.invoke(event)
        if outcome.error:
            self.errors.append(outcome.error)
        if self.on_invoke:
            self.on_invoke(self.route, outcome)
        return outcome

    def _send_failure(self, destination: str | None, payload: dict[str, Any]) -> None:
        self.dead_lettered += 1
        if destination and destination.startswith("arn:aws:sqs:"):
            url = self.clients.sqs.get_queue_url(QueueName=destination.split(":")[5])["QueueUrl"]
            self.clients.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(payload, default=str))


def batch_failures(result: Any, ids: list[str]) -> list[str] | None:
    """The itemIdentifiers of a partial batch response; None when the response is invalid (Lambda
    then fails the whole batch)."""
    if result is None or (isinstance(result, dict) and "batchItemFailures" not in result):
        return []
    if not isinstance(result, dict) or not isinstance(result.get("batchItemFailures"), list):
        return None
    failed = []
    for item in result["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in ids:
            return None
        failed.append(identifier)
    return failed


@dataclass
class QueuePoller(Poller):
    def poll(self) -> int:
        source = self.route.source
        assert isinstance(source, QueueSource)
        response = self.clients.sqs.receive_message(
            QueueUrl=source.url,
            MaxNumberOfMessages=min(10, source.batch_size),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        records = [shapes.sqs_record(m, source.arn) for m in messages]
        ids = [r["messageId"] for r in records]
        outcome = self._invoke({"Records": records}, ids)
        failed: list[str] | None
        if outcome.error:
            failed = ids
        elif source.report_failures:
            failed = batch_failures(outcome.result, ids)
            failed = ids if failed is None else failed
        else:
            failed = []
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.clients.sqs.delete_message_batch(
                QueueUrl=source.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:][:10])],
            )
        for message in messages:
            if message["MessageId"] in failed:
                self.clients.sqs.change_message_visibility(
                    QueueUrl=source.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=RETRY_DELAY
                )
        return len(records)

    def idle(self) -> bool:
        source = self.route.source
        assert isinstance(source, QueueSource)
        return _queue_empty(self.clients, source.url)


def _queue_empty(clients: Any, url: str) -> bool:
    attributes = clients.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 0
    )


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    buffer: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    limit: int = 0
    caught_up: bool = False
    not_before: float = 0.0


@dataclass
class StreamPoller(Poller):
    shards: dict[str, _Shard] = field(default_factory=dict)

    def _source(self) -> StreamSource:
        source = self.route.source
        assert isinstance(source, StreamSource)
        return source

    def _discover_shards(self) -> None:
        source = self._source()
        description = self.clients.streams.describe_stream(StreamArn=source.arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            if shard["ShardId"] in self.shards:
                continue
            iterator = self.clients.streams.get_shard_iterator(
                StreamArn=source.arn, ShardId=shard["ShardId"], ShardIteratorType=source.starting_position
            )["ShardIterator"]
            self.shards[shard["ShardId"]] = _Shard(shard["ShardId"], iterator, limit=source.batch_size)

    def poll(self) -> int:
        if not self.shards:
            self._discover_shards()
        return sum(self._poll_shard(shard) for shard in self.shards.values())

    def _poll_shard(self, shard: _Shard) -> int:
        source = self._source()
        if time.monotonic() < shard.not_before:
            return 0
        if not shard.buffer and shard.iterator:
            response = self.clients.streams.get_records(ShardIterator=shard.iterator, Limit=source.batch_size)
            shard.iterator = response.get("NextShardIterator")
            shard.buffer = [shapes.stream_record(r, source.arn) for r in response.get("Records", [])]
            shard.caught_up = not shard.buffer
        if not shard.buffer:
            return 0
        self._expire_old(shard)
        batch = shard.buffer[: max(1, shard.limit)]
        if not batch:
            return 0
        ids = [r["dynamodb"]["SequenceNumber"] for r in batch]
        outcome = self._invoke({"Records": batch}, ids)
        if outcome.error:
            self._retry(shard, batch, "RetryAttemptsExhausted", bisect=source.bisect)
        else:
            failed = batch_failures(outcome.result, ids) if source.report_failures else []
            if failed is None:
                self._retry(shard, batch, "RetryAttemptsExhausted", bisect=False)
            elif failed:
                first = min(ids.index(f) for f in failed)
                del shard.buffer[:first]  # the records before the failure are done (checkpoint)
                self._retry(shard, shard.buffer[: len(batch) - first], "RetryAttemptsExhausted", bisect=False)
            else:
                del shard.buffer[: len(batch)]
                shard.attempts, shard.limit = 0, source.batch_size
        return len(batch)

    def _retry(self, shard: _Shard, batch: list[dict[str, Any]], condition: str, *, bisect: bool) -> None:
        source = self._source()
        shard.attempts += 1
        shard.not_before = time.monotonic() + RETRY_DELAY
        if bisect and len(batch) > 1:
            shard.limit = max(1, len(batch) // 2)
        if 0 <= source.retry_attempts < shard.attempts:
            payload = shapes.stream_failure(
                batch, shard.shard_id, source.arn, self.route.function.arn, condition, shard.attempts
            )
            self._send_failure(source.on_failure_arn, payload)
            del shard.buffer[: len(batch)]
            shard.attempts, shard.limit, shard.not_before = 0, source.batch_size, 0.0

    def _expire_old(self, shard: _Shard) -> None:
        source = self._source()
        if source.max_record_age < 0:
            return
        now = time.time()
        old = [
            r
            for r in shard.buffer
            if now - float(r["dynamodb"].get("ApproximateCreationDateTime", now)) > source.max_record_age
        ]
        if old:
            payload = shapes.stream_failure(
                old, shard.shard_id, source.arn, self.route.function.arn, "RecordAgeExceeded", 0
            )
            self._send_failure(source.on_failure_arn, payload)
            shard.buffer = [r for r in shard.buffer if r not in old]

    def idle(self) -> bool:
        if not self.shards:
            self._discover_shards()
        return all(not s.buffer and s.caught_up for s in self.shards.values())


@dataclass
class BucketPoller(Poller):
    attempts: dict[str, int] = field(default_factory=dict)
    versioning: dict[str, bool] = field(default_factory=dict)

    def _source(self) -> BucketSource:
        source = self.route.source
        assert isinstance(source, BucketSource)
        return source

    def poll(self) -> int:
        source = self._source()
        messages = self.clients.sqs.receive_message(
            QueueUrl=source.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        count = 0
        for message in messages:
            try:
                body = json.loads(message["Body"])
            except ValueError:
                self.errors.append(f"not an S3 notification on {source.queue_url}: dropped")
                self._delete(message)
                continue
            if shapes.is_s3_test_event(body):  # sent when the notification is configured; S3 sends Lambda none
                self._delete(message)
                continue
            event = shapes.s3_event(body, message["MessageId"])
            for record in event["Records"]:
                self._add_version(record)
            ids = [s3_identity(r) for r in event["Records"]]
            outcome = self._invoke(event, ids)
            count += len(ids)
            if not outcome.error:
                self._delete(message)
                continue
            attempts = self.attempts.get(message["MessageId"], 0) + 1
            self.attempts[message["MessageId"]] = attempts
            if attempts > source.retry_attempts:
                self._send_failure(
                    source.on_failure_arn,
                    shapes.async_failure(event, self.route.function.arn, outcome.error, attempts),
                )
                self._delete(message)
            else:
                self.clients.sqs.change_message_visibility(
                    QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=RETRY_DELAY
                )
        return count

    def _add_version(self, record: dict[str, Any]) -> None:
        """S3 names the object's version in events from versioned buckets (moto does not): the
        version with the event's ETag, written closest to the event's time."""
        bucket = record.get("s3", {}).get("bucket", {}).get("name", "")
        obj = record.get("s3", {}).get("object", {})
        if "versionId" in obj or not self._versioned(bucket):
            return
        key = unquote_plus(obj.get("key", ""))
        response = self.clients.s3.list_object_versions(Bucket=bucket, Prefix=key)
        candidates = [
            v
            for v in response.get("Versions", [])
            if v["Key"] == key and v.get("ETag", "").strip('"') == obj.get("eTag")
        ]
        if not candidates:
            return
        when = shapes.event_time(record.get("eventTime"))
        best = min(
            candidates, key=lambda v: (abs(v["LastModified"].timestamp() - when), -v["LastModified"].timestamp())
        )
        obj["versionId"] = best["VersionId"]

    def _versioned(self, bucket: str) -> bool:
        if bucket not in self.versioning:
            status = self.clients.s3.get_bucket_versioning(Bucket=bucket).get("Status")
            self.versioning[bucket] = status == "Enabled"
        return self.versioning[bucket]

    def _delete(self, message: dict[str, Any]) -> None:
        self.clients.sqs.delete_message(QueueUrl=self._source().queue_url, ReceiptHandle=message["ReceiptHandle"])

    def idle(self) -> bool:
        return _queue_empty(self.clients, self._source().queue_url)


def s3_identity(record: dict[str, Any]) -> str:
    """bucket/key@version (or @sequencer for an unversioned bucket), with the key decoded."""
    obj = record.get("s3", {}).get("object", {})
    bucket = record.get("s3", {}).get("bucket", {}).get("name", "")
    return f"{bucket}/{unquote_plus(obj.get('key', ''))}@{obj.get('versionId') or obj.get('sequencer', '')}"


def make_poller(route: Route, function: FirewallFunction, clients: Any) -> Poller:
    if isinstance(route.source, QueueSource):
        return QueuePoller(route, function, clients)
    if isinstance(route.source, StreamSource):
        return StreamPoller(route, function, clients)
    return BucketPoller(route, function, clients)
