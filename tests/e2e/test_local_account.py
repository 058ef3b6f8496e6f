"""End to end: the app deployed with the CDK CLI into a moto server, the deployed firewall functions
run locally behind pollers, a small traffic set sent to all three demo routes, and the accounting:
every clean event reached its target exactly as sent, every malicious one is in the quarantine
bucket with a correct envelope and reached no target, nothing is lost.

One deployment serves the module (about 10 s with a cached synth, 20-40 s without).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firewall.local import traffic
from firewall.local.account import BucketSource, QueueSource, StreamSource
from firewall.local.session import LocalAccount
from firewall.local.traffic import Sent

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parents[2]


def _missing_tools() -> str | None:
    if not (PROJECT / "node_modules" / ".bin" / "cdk").exists():
        return "the CDK CLI is not installed (make setup)"
    if shutil.which("npx") is None:
        return "npx (Node) is not on PATH"
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return "moto[server] is not installed (make setup)"
    return None


@pytest.fixture(scope="module")
def local() -> Iterator[tuple[LocalAccount, list[Sent]]]:
    missing = _missing_tools()
    if missing:
        pytest.skip(missing)
    environment = dict(os.environ)
    with LocalAccount(PROJECT) as account:
        sent = account.send(traffic.SMALL)
        assert account.settle(timeout=60), "the sources were not drained within 60 s"
        yield account, sent
    assert dict(os.environ) == environment, "the local account must restore the environment"


def _route(account: LocalAccount, kind: type) -> Any:
    assert account.deployment is not None
    return next(r for r in account.deployment.routes if isinstance(r.source, kind))


def _target_records(account: LocalAccount, route: Any) -> list[dict[str, Any]]:
    return [
        record
        for invocation in account.targets.invocations
        if invocation.function == route.target.name
        for record in invocation.event.get("Records", [])
    ]


def _envelopes(account: LocalAccount) -> list[dict[str, Any]]:
    assert account.clients is not None and account.deployment is not None
    s3 = account.clients.s3
    bucket = account.deployment.quarantine_buckets[0]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if o["Key"].endswith(".json")]
    return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]


def test_the_template_was_deployed_and_read_back(local: tuple[LocalAccount, list[Sent]]) -> None:
    account, _ = local
    assert account.deployment is not None
    routes = {r.name: r for r in account.deployment.routes}
    assert set(routes) == {"orders", "uploads", "profiles"}
    assert isinstance(routes["orders"].source, QueueSource) and routes["orders"].source.report_failures
    assert isinstance(routes["profiles"].source, StreamSource)
    assert isinstance(routes["uploads"].source, BucketSource) and routes["uploads"].source.prefix == "incoming/"
    for route in routes.values():
        environment = route.function.environment
        assert environment["FIREWALL_ROUTE"] == route.name
        assert environment["FIREWALL_TARGET"] == route.target.arn
        assert route.function.handler == "firewall.runtime.handler.handler"
    assert any("S3BucketNotifications" in applied for applied in account.deployment.applied)
    assert not account.warnings, account.warnings


def test_the_accounting_holds(local: tuple[LocalAccount, list[Sent]]) -> None:
    account, sent = local
    result = account.accounting(sent)
    assert result.problems == []
    assert result.clean_delivered == result.clean == sum(not s.sample.malicious for s in sent) > 0
    assert result.malicious_quarantined == result.malicious == sum(s.sample.malicious for s in sent) > 0


def test_clean_events_reached_their_targets_exactly_as_sent(local: tuple[LocalAccount, list[Sent]]) -> None:
    account, sent = local
    orders, uploads, profiles = (_route(account, k) for k in (QueueSource, BucketSource, StreamSource))
    for item in (s for s in sent if not s.sample.malicious):
        if item.route == orders.name:
            bodies = [r["body"] for r in _target_records(account, orders) if r["messageId"] == item.message_id]
            assert bodies == [item.sample.body]
        elif item.route == uploads.name:
            records = [
                r for r in _target_records(account, uploads) if r["s3"]["object"].get("versionId") == item.version_id
            ]
            assert len(records) == 1
            assert records[0]["s3"]["object"]["size"] == len(item.sample.content)
        else:
            images = [r["dynamodb"].get("NewImage") for r in _target_records(account, profiles)]
            assert images.count(item.new_image) == 1


def test_malicious_events_are_quarantined_with_correct_envelopes(local: tuple[LocalAccount, list[Sent]]) -> None:
    account, sent = local
    envelopes = _envelopes(account)
    malicious = [s for s in sent if s.sample.malicious]
    assert len(envelopes) == len(malicious)
    routes = {r.name: r for r in account.deployment.routes} if account.deployment else {}
    for envelope in envelopes:
        route = routes[envelope["route"]]
        assert envelope["status"] == "pending"
        assert envelope["target"] == route.target.arn
        assert envelope["verdict"]["action"] == "quarantine" and envelope["verdict"]["matches"]
        assert envelope["signature_set"] and envelope["schema_version"] == 1
    orders = _route(account, QueueSource)
    order_ids = {e["record"]["messageId"] for e in envelopes if e["route"] == orders.name}
    assert order_ids == {s.message_id for s in malicious if s.route == orders.name}
    eicar = next(e for e in envelopes if "EICAR-001" in json.dumps(e["verdict"]))
    assert eicar["objects"][0]["copy_key"], "an S3 object is copied beside its envelope"


def test_no_malicious_event_reached_a_target(local: tuple[LocalAccount, list[Sent]]) -> None:
    account, sent = local
    forwarded = json.dumps([i.event for i in account.targets.invocations])
    for item in (s for s in sent if s.sample.malicious):
        if item.message_id:
            assert item.message_id not in forwarded
        if item.version_id:
            assert item.version_id not in forwarded
        if item.new_image:
            assert json.dumps(item.new_image["pk"]) not in forwarded


def test_nothing_is_lost_and_the_firewall_agrees(local: tuple[LocalAccount, list[Sent]]) -> None:
    account, sent = local
    assert account.deployment is not None
    assert all(not p.errors for p in account.pollers)
    assert all(invocation.error is None for invocation in account.targets.invocations)
    tallies = [account.tally(r.name) for r in account.deployment.routes]
    assert sum(t.received for t in tallies) == len(sent)
    assert sum(t.forwarded for t in tallies) == sum(not s.sample.malicious for s in sent)
    assert sum(t.quarantined for t in tallies) == sum(s.sample.malicious for s in sent)
    assert sum(t.failed for t in tallies) == 0


def test_events_have_the_shapes_lambda_sends(local: tuple[LocalAccount, list[Sent]]) -> None:
    account, _ = local
    orders, uploads, profiles = (_route(account, k) for k in (QueueSource, BucketSource, StreamSource))
    order = _target_records(account, orders)[0]
    assert order["eventSource"] == "aws:sqs" and order["eventSourceARN"] == orders.source.arn
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId"} <= set(order["attributes"])
    assert order["messageAttributes"]["channel"] == {
        "stringValue": "web",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    upload = _target_records(account, uploads)[0]
    assert {"userIdentity", "requestParameters", "responseElements"} <= set(upload)
    assert upload["s3"]["object"]["key"] == "incoming/holiday+photo+%281%29.jpg"
    assert upload["s3"]["object"]["sequencer"] and upload["s3"]["object"]["versionId"]
    profile = _target_records(account, profiles)[0]
    assert profile["eventVersion"] == "1.1" and profile["eventSourceARN"] == profiles.source.arn
    assert isinstance(profile["dynamodb"]["ApproximateCreationDateTime"], int)
    assert isinstance(profile["dynamodb"]["NewImage"]["avatar"]["B"], str), "binary attributes in base64"


def test_the_demo_command_exits_zero_when_the_accounting_holds(local: tuple[LocalAccount, list[Sent]]) -> None:
    """`firewall demo --once` end to end in its own process (reusing the synth the fixture cached)."""
    result = subprocess.run(
        [sys.executable, "-m", "firewall", "demo", "--once", "--traffic", "small"],
        cwd=PROJECT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Accounting holds" in result.stdout
    assert "quarantine list --bucket" in result.stdout
    workdir = result.stdout.rsplit("stopped the moto server and removed ", 1)[1].split(" (", 1)[0]
    assert not Path(workdir).exists(), "its working folder is removed"
