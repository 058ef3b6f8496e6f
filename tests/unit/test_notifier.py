"""Quarantine notifications: one SNS message per record, a digest past ten, never payload text."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from firewall import Firewall
from firewall.runtime.notifier import MAX_SINGLE_MESSAGES, Notifier
from firewall.sources import parse_event

PAYLOAD = "1' UNION SELECT password FROM users--"


def _sqs_event(count: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "body": json.dumps({"q": PAYLOAD}),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
            }
            for i in range(count)
        ]
    }


@pytest.fixture
def sns_and_queue() -> Any:
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="quarantine-notices")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        yield sns, sqs, topic, queue_url


def _received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _notify(notifier: Notifier, count: int) -> None:
    firewall = Firewall.load()
    for record in parse_event(_sqs_event(count)).records:
        notifier.quarantined(record, firewall.inspect_record(record), f"orders/2026/11/29/sqs/{record.record_id}.json")


def test_one_message_per_quarantined_record_with_the_review_command(sns_and_queue: Any) -> None:
    sns, sqs, topic, queue_url = sns_and_queue
    notifier = Notifier(sns, topic, route="orders", bucket="quarantine-bucket")
    _notify(notifier, 2)
    assert notifier.flush() == []
    messages = _received(sqs, queue_url)
    assert [m["record_id"] for m in messages] == ["m-0", "m-1"]
    assert messages[0]["review"] == "firewall quarantine show m-0 --bucket quarantine-bucket"
    assert "FW-SQLI-001" in messages[0]["signatures"]
    assert "UNION" not in json.dumps(messages).upper()  # no payload text, not even excerpts


def test_a_flood_becomes_ten_messages_and_a_digest(sns_and_queue: Any) -> None:
    sns, sqs, topic, queue_url = sns_and_queue
    notifier = Notifier(sns, topic, route="orders", bucket="quarantine-bucket")
    _notify(notifier, 25)
    notifier.flush()
    messages = _received(sqs, queue_url)
    assert len(messages) == MAX_SINGLE_MESSAGES + 1
    digest = [m for m in messages if m.get("digest")]
    assert digest and digest[0]["records"] == 25 - MAX_SINGLE_MESSAGES


def test_a_failed_publish_is_reported_not_raised(sns_and_queue: Any) -> None:
    sns, _, _, _ = sns_and_queue
    notifier = Notifier(sns, "arn:aws:sns:us-east-1:123456789012:missing", route="orders", bucket="b")
    _notify(notifier, 1)
    assert notifier.flush() == ["notification failed (NotFound)"]


def test_without_a_topic_nothing_is_sent() -> None:
    notifier = Notifier(None, None, route="orders", bucket="b")
    _notify(notifier, 1)
    assert notifier.flush() == []
