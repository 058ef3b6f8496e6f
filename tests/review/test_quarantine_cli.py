"""`firewall quarantine ...` against a moto server: every command, and every source's release path.

Envelopes are written by the firewall's own `QuarantineStore.store`; releases reach target functions
that run here (`LocalTargets`) behind the Lambda client the command uses.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from review_support import (
    CALLER,
    QUARANTINE,
    SQLI,
    TRAVERSAL,
    XSS,
    Account,
    load_event,
    sqs_event,
    target_arn,
)

from firewall import cli
from firewall.engine.model import Match
from firewall.local.targets import Throttled
from firewall.review import commands
from firewall.review.release import Releaser
from firewall.review.store import ReviewStore, lock_key

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(account: Account, *argv: str, err: io.StringIO | None = None) -> Result:
    out, err = io.StringIO(), err or io.StringIO()
    code = commands.run([*argv, "--bucket", QUARANTINE], clients=account.clients, now=NOW, out=out, err=err)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def s3_calls(account: Account) -> Iterator[Counter[str]]:
    """S3 operations made while the test runs, by name."""
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    account.s3.meta.events.register("before-call.s3", count)
    yield calls
    account.s3.meta.events.unregister("before-call.s3", count)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def populate(account: Account) -> dict[str, str]:
    """Six envelopes over four routes, three sources and four days; returns record id -> key."""
    keys = {
        "msg-a": account.quarantine(sqs_event("msg-a", at("2026-11-29T10:00")), matches=[SQLI]),
        "msg-b": account.quarantine(sqs_event("msg-b", at("2026-11-30T09:00")), matches=[XSS]),
        "msg-c": account.quarantine(sqs_event("msg-c", at("2026-11-28T08:00")), matches=[SQLI, XSS]),
        "msg-d": account.quarantine(
            sqs_event("msg-d", at("2026-11-30T11:00"), queue="billing"),
            route="billing",
            target="billing-worker",
            matches=[TRAVERSAL],
        ),
    }
    stream = load_event("dynamodb_stream_malicious.json")
    stream["Records"][0]["dynamodb"]["ApproximateCreationDateTime"] = at("2026-11-25T06:00").timestamp()
    keys["ddb"] = account.quarantine(stream, route="profiles", target="profiles-worker", matches=[SQLI])
    clicks = load_event("kinesis_malicious.json")
    clicks["Records"][1]["kinesis"]["approximateArrivalTimestamp"] = at("2026-11-30T10:30").timestamp()
    keys["kin"] = account.quarantine(clicks, index=1, route="clicks", target="clicks-worker", matches=[XSS])
    return keys


def ids(result: Result) -> list[str]:
    return [item["record_id"] for item in result.json()["items"]]


def short(result: Result, keys: dict[str, str]) -> set[str]:
    by_key = {v: k for k, v in keys.items()}
    return {by_key[item["key"]] for item in result.json()["items"]}


# -- list --------------------------------------------------------------------------------------


def test_list_newest_first_with_every_filter(account: Account, s3_calls: Counter[str]) -> None:
    keys = populate(account)
    everything = run(account, "list", "--json")
    assert everything.code == 0, everything.err
    items = everything.json()["items"]
    assert len(items) == 6 and everything.json()["next_page_token"] is None
    days = [item["day"] for item in items]
    assert days == sorted(days, reverse=True)
    assert {i["key"] for i in items} == set(keys.values())
    first = items[0]
    assert first["status"] == "pending" and first["score"] in (2, 3, 4, 5) and first["signatures"]

    def select(*options: str) -> set[str]:
        result = run(account, "list", "--json", *options)
        assert result.code == 0, result.err
        return short(result, keys)

    assert select("--route", "orders") == {"msg-a", "msg-b", "msg-c"}
    assert select("--route", "billing,clicks") == {"msg-d", "kin"}
    assert select("--source", "dynamodb", "--source", "kinesis") == {"ddb", "kin"}
    assert select("--signature", "FW-XSS-002") == {"msg-b", "msg-c", "kin"}
    assert select("--family", "sqli") == {"msg-a", "msg-c", "ddb"}
    assert select("--severity", "medium") == {"msg-d"}
    assert select("--status", "pending") == set(keys)
    assert select("--status", "released") == set()
    assert select("--since", "2026-11-29", "--until", "2026-11-29") == {"msg-a"}
    assert select("--until", "2026-11-28") == {"msg-c", "ddb"}
    # 24h before NOW is 2026-11-29T12:00: msg-a (29th, 10:00) is on that day but before it
    assert select("--since", "24h") == {"msg-b", "msg-d", "kin"}
    assert select("--since", "2026-11-30T10:00:00Z") == {"msg-d", "kin"}


def test_key_filters_never_read_envelopes(account: Account, s3_calls: Counter[str]) -> None:
    keys = populate(account)
    s3_calls.clear()
    result = run(
        account, "list", "--json", "--keys-only", "--route", "orders", "--source", "sqs", "--since", "2026-11-29"
    )
    assert short(result, keys) == {"msg-a", "msg-b"}
    assert s3_calls["GetObject"] == 0
    assert all("status" not in item for item in result.json()["items"])

    s3_calls.clear()  # a time bound inside a day: only that day's envelopes are read
    result = run(account, "list", "--json", "--keys-only", "--since", "24h")
    assert short(result, keys) == {"msg-b", "msg-d", "kin"}
    assert s3_calls["GetObject"] == 1

    s3_calls.clear()  # a verdict filter reads the envelopes the key filters left, no more
    result = run(account, "list", "--json", "--route", "orders", "--signature", "FW-XSS-002")
    assert short(result, keys) == {"msg-b", "msg-c"}
    assert s3_calls["GetObject"] == 3


def test_list_pages(account: Account) -> None:
    keys = populate(account)
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        options = ["--page-token", token] if token else []
        result = run(account, "list", "--json", "--limit", "4", *options)
        assert result.code == 0, result.err
        seen += [item["key"] for item in result.json()["items"]]
        token = result.json()["next_page_token"]
        pages += 1
        if token is None:
            break
    assert pages == 2 and len(seen) == 6 and set(seen) == set(keys.values())
    full = [item["key"] for item in run(account, "list", "--json").json()["items"]]
    assert seen == full
    filtered = run(account, "list", "--json", "--limit", "1", "--family", "sqli")
    assert len(filtered.json()["items"]) == 1 and filtered.json()["next_page_token"]
    nxt = run(
        account,
        "list",
        "--json",
        "--limit",
        "5",
        "--family",
        "sqli",
        "--page-token",
        filtered.json()["next_page_token"],
    )
    assert len(nxt.json()["items"]) == 2 and nxt.json()["next_page_token"] is None
    bad = run(account, "list", "--page-token", "not-a-token")
    assert bad.code == 2 and "invalid page token" in bad.err


def test_list_table_and_progress(account: Account) -> None:
    populate(account)
    watched = Terminal()
    result = run(account, "list", "--limit", "3", err=watched)
    lines = result.out.splitlines()
    assert lines[0].split() == ["TIME", "ROUTE", "SOURCE", "STATUS", "SCORE", "SIGNATURES", "RECORD"]
    assert len([line for line in lines[1:] if line.strip() and not line.startswith("more:")]) == 3
    assert "--page-token" in lines[-1]
    assert "key(s) listed" in watched.getvalue()
    piped = run(account, "list")
    assert piped.err == ""  # no progress when standard error is not a terminal
    empty = run(account, "list", "--route", "nothing-here")
    assert empty.code == 0 and "no quarantined records match" in empty.out


# -- show --------------------------------------------------------------------------------------


def test_show_summary_matches_and_raw(account: Account) -> None:
    body = '{"note": "1\' UNION SELECT user, pass FROM users--", "marker": "only-in-the-raw-record"}'
    sneaky = Match("FW-XSS-002", "Script tag", "xss", "high", "sqs.body.comment", "<scr\x1b[2Jipt>…", ())
    key = account.quarantine(sqs_event("msg-show", at("2026-11-29T10:00"), body=body), matches=[SQLI, sneaky])
    shown = run(account, "show", "msg-show")
    assert shown.code == 0, shown.err
    text = shown.out
    assert f"s3://{QUARANTINE}/{key}" in text
    for expected in (
        "orders",
        "sqs",
        target_arn("orders-worker"),
        "pending",
        "sigset-test",
        "score 9",
        "FW-SQLI-001",
        "critical",
        "sqs.body.note",
        "url_decode, lowercase",
        "…' UNION SELECT user…",
        "FW-XSS-002",
        "sqs.body.comment",
        "(none)",
        "history: none",
    ):
        assert expected in text, expected
    assert "only-in-the-raw-record" not in text
    assert "\x1b" not in text and "\\x1b[2J" in text  # an escape sequence in an excerpt is shown, not run

    by_key = run(account, "show", key)
    assert by_key.out == text
    raw = run(account, "show", "msg-show", "--raw")
    assert json.loads(raw.out)["body"] == body and "payload" in raw.err
    as_json = run(account, "show", "msg-show", "--json").json()
    assert as_json["key"] == key and "record" not in as_json["envelope"]
    assert as_json["envelope"]["verdict"]["matches"][0]["path"] == "sqs.body.note"

    missing = run(account, "show", "no-such-record")
    assert missing.code == 2 and "no quarantined record 'no-such-record'" in missing.err


# -- release: every source ---------------------------------------------------------------------


def _target(account: Account, name: str, result: Any = None) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], _context: Any) -> Any:
        received.append(event)
        return result

    account.targets.register(name, handler)
    return received


def _released(account: Account, key: str) -> dict[str, Any]:
    envelope = account.envelope(key)
    assert envelope["status"] == "released"
    assert account.tag(key) == "released"
    (entry,) = [h for h in envelope["history"] if h["action"] == "release"]
    assert entry["by"] == CALLER and entry["reason"] == "false positive" and entry["at"].endswith("Z")
    return dict(entry)


def test_release_sqs_standard_once(account: Account) -> None:
    event = sqs_event("msg-rel", at("2026-11-29T10:00"))
    key = account.quarantine(event)
    received = _target(account, "orders-worker", {"batchItemFailures": []})
    first = run(account, "release", "msg-rel", "--reason", "false positive")
    assert first.code == 0, first.out + first.err
    assert first.out.startswith("released: msg-rel")
    assert received == [{"Records": [event["Records"][0]]}]
    assert account.targets.invocations[0].invocation_type == "RequestResponse"
    entry = _released(account, key)
    assert entry["target"] == target_arn("orders-worker") and entry["invocation"] == "RequestResponse"

    again = run(account, "release", key, "--reason", "false positive")
    assert again.code == 0 and again.out.startswith("already released")
    assert len(received) == 1


def test_release_sqs_fifo_keeps_group_new_deduplication_id(account: Account) -> None:
    event = load_event("sqs_fifo.json")
    original = event["Records"][1]
    key = account.quarantine(event, index=1)
    received = _target(account, "orders-worker")
    result = run(account, "release", original["messageId"], "--reason", "false positive")
    assert result.code == 0, result.out + result.err
    (delivered,) = received[0]["Records"]
    assert delivered["attributes"]["MessageGroupId"] == original["attributes"]["MessageGroupId"]
    new_id = delivered["attributes"]["MessageDeduplicationId"]
    assert new_id != original["attributes"]["MessageDeduplicationId"] and new_id.startswith("release-")
    assert delivered["body"] == original["body"] and delivered["messageId"] == original["messageId"]
    entry = _released(account, key)
    assert entry["deduplication_id"] == new_id
    assert account.envelope(key)["record"] == original  # the envelope keeps the record as received


@pytest.mark.parametrize(
    ("source", "event_file", "index"),
    [("dynamodb", "dynamodb_stream_malicious.json", 0), ("kinesis", "kinesis_malicious.json", 1)],
)
def test_release_stream_record_as_one_record_batch(account: Account, source: str, event_file: str, index: int) -> None:
    event = load_event(event_file)
    key = account.quarantine(event, index=index, route="streams", target="stream-worker")
    received = _target(account, "stream-worker", {"batchItemFailures": []})
    result = run(account, "release", key, "--reason", "false positive")
    assert result.code == 0, result.out + result.err
    assert received == [{"Records": [event["Records"][index]]}]
    assert account.targets.invocations[0].invocation_type == "RequestResponse"
    _released(account, key)


def test_release_s3_object_with_original_notification(account: Account) -> None:
    event = account.upload("incoming/report.csv", b"name,total\nada,42\n")
    key = account.quarantine(event, route="uploads", target="uploads-worker", matches=[TRAVERSAL])
    copy_key = key.removesuffix(".json") + ".object"
    assert account.tag(copy_key) == "pending"
    received = _target(account, "uploads-worker")
    result = run(account, "release", key, "--reason", "false positive")
    assert result.code == 0, result.out + result.err
    assert received == [event]
    assert account.targets.invocations[0].invocation_type == "Event"
    _released(account, key)
    assert account.tag(copy_key) == "released"


def test_release_of_a_deleted_object_fails_and_changes_nothing(account: Account) -> None:
    event = account.upload("incoming/gone.csv", b"a,b\n")
    key = account.quarantine(event, route="uploads", target="uploads-worker", matches=[TRAVERSAL])
    version = event["Records"][0]["s3"]["object"]["versionId"]
    account.s3.delete_object(Bucket="acme-uploads", Key="incoming/gone.csv", VersionId=version)
    before = account.raw(key)
    received = _target(account, "uploads-worker")
    result = run(account, "release", key, "--reason", "false positive")
    assert result.code == 1
    assert "failed:" in result.out and "no longer exists" in result.out and version in result.out
    assert "quarantined copy is s3://" in result.out and "envelope is unchanged" in result.out
    assert received == []
    assert account.raw(key) == before
    assert not account.exists(lock_key(key))


def test_release_of_an_overwritten_unversioned_object_fails(account: Account) -> None:
    event = account.upload("incoming/plain.csv", b"first\n")
    del event["Records"][0]["s3"]["object"]["versionId"]  # as from a bucket without versioning
    key = account.quarantine(event, route="uploads", target="uploads-worker", matches=[TRAVERSAL])
    account.s3.put_object(Bucket="acme-uploads", Key="incoming/plain.csv", Body=b"second\n")
    received = _target(account, "uploads-worker")
    result = run(account, "release", key, "--reason", "false positive")
    assert result.code == 1 and "overwritten since it was quarantined" in result.out
    assert received == [] and account.envelope(key)["status"] == "pending"


@pytest.mark.parametrize(("source", "event_file"), [("sns", "sns.json"), ("eventbridge", "eventbridge_malicious.json")])
def test_release_sns_and_eventbridge_asynchronously(account: Account, source: str, event_file: str) -> None:
    event = load_event(event_file)
    key = account.quarantine(event, route="notices", target="notices-worker")
    received = _target(account, "notices-worker")
    result = run(account, "release", key, "--reason", "false positive")
    assert result.code == 0, result.out + result.err
    expected = event if source == "eventbridge" else {"Records": [event["Records"][0]]}
    assert received == [expected]
    assert account.targets.invocations[0].invocation_type == "Event"
    _released(account, key)


def test_target_failure_fails_the_release_and_it_can_be_retried(account: Account) -> None:
    """Each failed attempt is in the history (who, when, why, what the target answered); the
    record stays pending, and a later release delivers it."""
    key = account.quarantine(sqs_event("msg-fail", at("2026-11-29T10:00")))
    state = {"mode": "raise"}

    def handler(event: dict[str, Any], _context: Any) -> Any:
        if state["mode"] == "raise":
            raise RuntimeError("database down")
        if state["mode"] == "partial":
            return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
        if state["mode"] == "malformed":  # Lambda fails a whole batch for a null itemIdentifier
            return {"batchItemFailures": [{"itemIdentifier": None}]}
        return None

    account.targets.register("orders-worker", handler)
    raised = run(account, "release", key, "--reason", "false positive")
    assert raised.code == 1 and "raised an error (Unhandled: RuntimeError)" in raised.out
    assert "database down" not in raised.out  # the target's message may echo the payload
    state["mode"] = "partial"
    partial = run(account, "release", key, "--reason", "false positive")
    assert partial.code == 1 and "batchItemFailures" in partial.out
    state["mode"] = "malformed"
    malformed = run(account, "release", key, "--reason", "false positive")
    assert malformed.code == 1 and "malformed batchItemFailures" in malformed.out
    assert account.envelope(key)["status"] == "pending" and not account.exists(lock_key(key))
    failures = account.envelope(key)["history"]
    assert [entry["action"] for entry in failures] == ["release failed"] * 3
    assert "raised an error" in failures[0]["detail"] and "database down" not in json.dumps(failures)
    assert {entry["target_may_have_received"] for entry in failures} == {False}

    state["mode"] = "ok"
    retried = run(account, "release", key, "--reason", "false positive")
    assert retried.code == 0, retried.out
    _released(account, key)
    assert len(account.targets.invocations) == 4


def test_lambda_refusing_the_invoke_fails_cleanly(account: Account) -> None:
    key = account.quarantine(sqs_event("msg-busy", at("2026-11-29T10:00")), route="notices", target="busy-worker")

    def throttled(_event: dict[str, Any], _context: Any) -> None:
        raise Throttled

    account.targets.register("busy-worker", throttled)
    result = run(account, "release", key, "--reason", "false positive")
    assert result.code == 1 and "TooManyRequestsException" in result.out
    assert account.envelope(key)["status"] == "pending" and not account.exists(lock_key(key))


def test_a_release_that_may_have_reached_the_target_is_recorded_and_shown(account: Account) -> None:
    """A timeout leaves it unknown whether the target got the record: the attempt is in the
    history, the lock stays, and show tells the reviewer what to check before releasing again."""
    from botocore.exceptions import ReadTimeoutError

    key = account.quarantine(sqs_event("msg-slow", at("2026-11-29T10:00")))
    client = account.clients.get_lambda()

    def time_out(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://lambda.example")

    client.meta.events.register("before-send.lambda.Invoke", time_out)
    try:
        result = run(account, "release", key, "--reason", "false positive")
    finally:
        client.meta.events.unregister("before-send.lambda.Invoke", time_out)
    assert result.code == 1 and "may have received the record" in result.out
    (entry,) = account.envelope(key)["history"]
    assert entry["action"] == "release failed" and entry["target_may_have_received"] is True
    shown = run(account, "show", key)
    assert "release lock: state 'uncertain'" in shown.out and lock_key(key) in shown.out
    again = run(account, "release", key, "--reason", "false positive")
    assert again.code == 1 and account.envelope(key)["status"] == "pending"


def test_concurrent_releases_deliver_once(account: Account) -> None:
    key = account.quarantine(sqs_event("msg-race", at("2026-11-29T10:00")))
    received: list[dict[str, Any]] = []

    def slow(event: dict[str, Any], _context: Any) -> None:
        received.append(event)
        time.sleep(0.3)

    account.targets.register("orders-worker", slow)
    start = threading.Barrier(6)
    results: list[Result] = []

    def release() -> None:
        start.wait()
        results.append(run(account, "release", "msg-race", "--reason", "false positive"))

    threads = [threading.Thread(target=release) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(received) == 1
    assert sorted(r.code for r in results) == [0] * 6, [r.out for r in results]
    outcomes = Counter(r.out.split(":")[0] for r in results)
    assert outcomes == {"released": 1, "already released": 5}
    _released(account, key)


def test_interrupted_releases_never_deliver_twice(account: Account) -> None:
    delivered_key = account.quarantine(sqs_event("msg-int1", at("2026-11-29T10:00")))
    stuck_key = account.quarantine(sqs_event("msg-int2", at("2026-11-29T10:00")))
    received = _target(account, "orders-worker")
    lock = {
        "state": "delivered",
        "by": "arn:aws:sts::123456789012:user/alice",
        "at": "2026-11-30T11:00:00Z",
        "delivered_at": "2026-11-30T11:00:01Z",
        "reason": "false positive",
        "target": target_arn("orders-worker"),
    }
    account.s3.put_object(Bucket=QUARANTINE, Key=lock_key(delivered_key), Body=json.dumps(lock).encode())
    account.s3.put_object(Bucket=QUARANTINE, Key=lock_key(stuck_key), Body=json.dumps(lock | {"state": "delivering"}))
    releaser = Releaser(
        ReviewStore(account.s3, QUARANTINE),
        account.clients.lambda_,
        identity=CALLER,
        wait_seconds=0.3,
        poll_seconds=0.05,
    )

    finished = releaser.release(delivered_key, "again")
    assert finished.result == "already released" and "not delivered again" in finished.detail
    envelope = account.envelope(delivered_key)
    assert envelope["status"] == "released"
    assert envelope["history"][0]["by"].endswith("user/alice") and envelope["history"][0]["recorded_by"] == CALLER

    before = account.raw(stuck_key)
    stuck = releaser.release(stuck_key, "again")
    assert stuck.result == "failed" and "has not finished" in stuck.detail and lock_key(stuck_key) in stuck.detail
    assert account.raw(stuck_key) == before
    assert received == []


# -- dry run, delete ---------------------------------------------------------------------------


def test_dry_run_changes_nothing(account: Account, s3_calls: Counter[str]) -> None:
    event = account.upload("incoming/dry.csv", b"x,y\n")
    key = account.quarantine(event, route="uploads", target="uploads-worker", matches=[TRAVERSAL])
    before = account.raw(key)
    received = _target(account, "uploads-worker")
    s3_calls.clear()
    release = run(account, "release", key, "--reason", "checking", "--dry-run")
    assert release.code == 0 and release.out.startswith("would release") and "asynchronously" in release.out
    delete = run(account, "delete", key, "--reason", "checking", "--dry-run")
    assert delete.code == 0 and delete.out.startswith("would delete") and ".object" in delete.out
    assert received == [] and account.raw(key) == before
    assert not account.exists(lock_key(key)) and account.exists(key.removesuffix(".json") + ".object")
    writes = {"PutObject", "DeleteObject", "PutObjectTagging", "CopyObject", "DeleteObjects"}
    assert not writes & set(s3_calls)


def test_delete_removes_copies_and_keeps_the_envelope(account: Account) -> None:
    event = account.upload("incoming/bad.csv", b"=cmd|' /C calc'!A0\n")
    key = account.quarantine(event, route="uploads", target="uploads-worker", matches=[TRAVERSAL])
    copy_key = key.removesuffix(".json") + ".object"
    other = account.quarantine(sqs_event("msg-del", at("2026-11-29T10:00")))
    result = run(account, "delete", key, "msg-del", "--reason", "confirmed attack", "--json")
    assert result.code == 0, result.err
    assert [o["result"] for o in result.json()] == ["deleted", "deleted"]
    assert not account.exists(copy_key)
    envelope = account.envelope(key)
    assert envelope["status"] == "deleted" and account.tag(key) == "deleted"
    (entry,) = envelope["history"]
    assert entry == {
        "action": "delete",
        "by": CALLER,
        "at": entry["at"],
        "reason": "confirmed attack",
        "removed": [copy_key],
        "previous_status": "pending",
    }
    assert envelope["record"] == event["Records"][0]  # kept as the audit record
    assert account.envelope(other)["status"] == "deleted"

    again = run(account, "delete", key, "--reason", "confirmed attack")
    assert again.code == 0 and again.out.startswith("already deleted")
    release = run(account, "release", key, "--reason", "oops")
    assert release.code == 1 and "deleted" in release.out
    listed = run(account, "list", "--json", "--status", "deleted")
    assert {i["key"] for i in listed.json()["items"]} == {key, other}


def test_bad_input_is_a_clear_error(account: Account) -> None:
    key = account.quarantine(sqs_event("msg-why", at("2026-11-29T10:00")))
    result = run(account, "delete", key, "--reason", "  ")
    assert result.code == 2 and "--reason is required" in result.err
    assert account.envelope(key)["status"] == "pending"
    for options, message in (
        (["--since", "yesterday"], "cannot read the time 'yesterday'"),
        (["--since", "2026-11-30", "--until", "2026-11-29"], "--since must be before --until"),
        (["--source", "ftp"], "unknown source 'ftp'"),
        (["--status", "lost"], "unknown status 'lost'"),
    ):
        failed = run(account, "list", *options)
        assert failed.code == 2 and message in failed.err, failed.err
    outside = run(account, "show", "s3://another-bucket/orders/x.json")
    assert outside.code == 2 and "not in the quarantine bucket" in outside.err


# -- stats, export -----------------------------------------------------------------------------


def test_stats(account: Account) -> None:
    populate(account)
    stats = run(account, "stats", "--json").json()
    assert stats["total"] == 6
    assert stats["by_status"] == {"pending": 6}
    assert list(stats["by_route"].items()) == [("orders", 3), ("billing", 1), ("clicks", 1), ("profiles", 1)]
    assert list(stats["by_family"].items()) == [("sqli", 3), ("xss", 3), ("traversal", 1)]
    assert [(r["signature"], r["count"]) for r in stats["by_signature"]] == [
        ("FW-SQLI-001", 3),
        ("FW-XSS-002", 3),
        ("FW-PATH-001", 1),
    ]
    assert stats["by_day"] == {"2026-11-30": 3, "2026-11-29": 1, "2026-11-28": 1, "2026-11-25": 1}
    text = run(account, "stats", "--route", "orders").out
    assert text.startswith("3 quarantined record(s) (pending 3)")
    assert text.index("FW-SQLI-001") < text.index("by family")


def test_export_jsonl(account: Account, tmp_path: Path) -> None:
    keys = populate(account)
    result = run(account, "export", "--since", "2026-11-29")
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    kinesis_id = account.envelope(keys["kin"])["record_id"]
    assert len(lines) == 4 and {line["record_id"] for line in lines} == {"msg-a", "msg-b", "msg-d", kinesis_id}
    listed = run(account, "list", "--json", "--since", "2026-11-29").json()["items"]
    assert lines == [account.envelope(item["key"]) for item in listed]  # as stored, newest first
    target = tmp_path / "evidence.jsonl"
    written = run(account, "export", "--family", "xss", "--output", str(target))
    assert written.code == 0 and "3 envelope(s) exported" in written.err
    assert len(target.read_text().splitlines()) == 3


# -- allow -------------------------------------------------------------------------------------


def test_allow_writes_reviewed_exclusions_and_keeps_the_file(account: Account, tmp_path: Path) -> None:
    config = tmp_path / "firewall.yaml"
    shutil.copy(REPO / "firewall.yaml", config)
    original = config.read_text()
    key = account.quarantine(sqs_event("msg-fp", at("2026-11-29T10:00")), matches=[SQLI, XSS])
    result = run(
        account,
        "allow",
        "msg-fp",
        "--scope",
        "field",
        "--reason",
        'a customer wrote "union select"',
        "--config",
        str(config),
    )
    assert result.code == 0, result.err
    assert "excluded FW-SQLI-001 on field sqs.body.note in route orders" in result.out
    text = config.read_text()
    lines = iter(text.splitlines())
    assert all(line in lines for line in original.splitlines())  # every original line kept, in order
    assert "- signature: FW-SQLI-001  # UNION-based SQL injection" in text
    data = yaml.safe_load(text)
    exclusions = data["routes"]["orders"]["exclusions"]
    assert exclusions == [
        {
            "signature": "FW-SQLI-001",
            "path": "sqs.body.note",
            "reason": 'a customer wrote "union select"',
            "added_by": CALLER,
            "added_at": NOW.date(),
            "record": "msg-fp",
        },
        {
            "signature": "FW-XSS-002",
            "path": "sqs.body.comment",
            "reason": 'a customer wrote "union select"',
            "added_by": CALLER,
            "added_at": NOW.date(),
            "record": "msg-fp",
        },
    ]
    assert "exclusions" not in data["routes"]["uploads"]
    assert data["alarms"] == {"email": None, "topic_arn": None}
    (entry,) = account.envelope(key)["history"]
    assert (
        entry["action"] == "allow"
        and entry["scope"] == "field"
        and entry["signatures"] == ["FW-SQLI-001", "FW-XSS-002"]
    )

    again = run(account, "allow", "msg-fp", "--scope", "field", "--reason", "again", "--config", str(config))
    assert again.code == 0 and again.out.count("already excluded") == 2 and config.read_text() == text

    wide = run(
        account,
        "allow",
        key,
        "--scope",
        "route",
        "--signature",
        "FW-SQLI-001",
        "--reason",
        "whole route",
        "--config",
        str(config),
    )
    assert wide.code == 0, wide.err
    exclusions = yaml.safe_load(config.read_text())["routes"]["orders"]["exclusions"]
    assert exclusions[-1] == {
        "signature": "FW-SQLI-001",
        "reason": "whole route",
        "added_by": CALLER,
        "added_at": NOW.date(),
        "record": "msg-fp",
    }
    assert len(exclusions) == 3

    dry = run(
        account,
        "allow",
        key,
        "--scope",
        "route",
        "--signature",
        "FW-XSS-002",
        "--reason",
        "maybe",
        "--config",
        str(config),
        "--dry-run",
    )
    assert (
        dry.code == 0
        and "reason: maybe" in dry.out
        and len(yaml.safe_load(config.read_text())["routes"]["orders"]["exclusions"]) == 3
    )

    stranger = account.quarantine(sqs_event("msg-x", at("2026-11-29T10:00")), route="billing", target="b")
    unknown = run(account, "allow", stranger, "--scope", "route", "--reason", "x", "--config", str(config))
    assert unknown.code == 2 and "no route 'billing'" in unknown.err


def test_allow_keeps_comments_that_follow_the_route(account: Account, tmp_path: Path) -> None:
    config = tmp_path / "firewall.yaml"
    config.write_text(
        "routes:\n"
        "  orders:                     # the order queue\n"
        "    source: {queue: new}\n"
        "    target: {sample: orders}  # processed by the sample\n"
        "\n"
        "  # uploads land here\n"
        "  uploads:\n"
        "    source: {bucket: new}\n"
        "    target: {sample: uploads}\n"
    )
    account.quarantine(sqs_event("msg-fp2", at("2026-11-29T10:00")), matches=[SQLI])
    result = run(account, "allow", "msg-fp2", "--scope", "route", "--reason", "reviewed", "--config", str(config))
    assert result.code == 0, result.err
    assert config.read_text() == (
        "routes:\n"
        "  orders:                     # the order queue\n"
        "    source: {queue: new}\n"
        "    target: {sample: orders}  # processed by the sample\n"
        "    exclusions:\n"
        "      - signature: FW-SQLI-001  # UNION-based SQL injection\n"
        "        reason: reviewed\n"
        f"        added_by: {CALLER}\n"
        "        added_at: 2026-11-30\n"
        "        record: msg-fp2\n"
        "\n"
        "  # uploads land here\n"
        "  uploads:\n"
        "    source: {bucket: new}\n"
        "    target: {sample: uploads}\n"
    )


# -- the `firewall` command --------------------------------------------------------------------


def test_firewall_command_uses_the_environment(
    account: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = account.quarantine(sqs_event("msg-env", at("2026-11-29T10:00")))
    assert cli.main(["quarantine", "list", "--json"]) == 2
    assert "FIREWALL_QUARANTINE_BUCKET" in capsys.readouterr().err
    monkeypatch.setenv("FIREWALL_QUARANTINE_BUCKET", QUARANTINE)
    assert cli.main(["quarantine", "list", "--json"]) == 0
    assert [i["key"] for i in json.loads(capsys.readouterr().out)["items"]] == [key]
    assert cli.main(["quarantine", "show", "msg-env", "--bucket", "no-such-bucket"]) == 2
    assert "does not exist" in capsys.readouterr().err


def _rewrite(account: Account, key: str, **changes: Any) -> None:
    """The envelope at `key` with some fields replaced, as someone with write access could do."""
    envelope = account.envelope(key) | changes
    account.s3.put_object(Bucket=QUARANTINE, Key=key, Body=json.dumps(envelope).encode())


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"route": "billing"}, "route 'billing' does not match its key"),
        ({"record_id": "msg-other"}, "record_id 'msg-other' does not match its key"),
        ({"schema_version": 99}, "schema_version 99 is not 1"),
        ({"history": "x"}, "history is not a list"),
        ({"objects": [1]}, "objects are not a list of objects"),
    ],
)
def test_an_envelope_that_disagrees_with_its_key_is_neither_released_nor_deleted(
    account: Account, changes: dict[str, Any], problem: str
) -> None:
    """An envelope edited or copied into place would otherwise be released to the target it names."""
    key = account.quarantine(sqs_event("msg-t", at("2026-11-29T10:00")))
    _rewrite(account, key, **changes)
    for action in ("release", "delete"):
        result = run(account, action, key, "--reason", "checking")
        assert result.code == 1 and problem in result.out, result.out
    assert account.targets.invocations == [] and account.envelope(key)["status"] == "pending"


def test_delete_removes_only_copies_beside_its_envelope(account: Account) -> None:
    first = account.quarantine(sqs_event("msg-a", at("2026-11-29T10:00")))
    second = account.quarantine(sqs_event("msg-b", at("2026-11-29T10:00")))
    _rewrite(account, second, objects=[{"bucket": "b", "key": "k", "copy_key": first}])
    result = run(account, "delete", second, "--reason", "cleanup")
    assert result.code == 1 and "a copy outside its own keys" in result.out
    assert account.exists(first) and account.envelope(second)["status"] == "pending"


def test_every_outcome_of_a_multi_record_release_is_reported(account: Account) -> None:
    """The second envelope is unreadable: the first was already delivered, and that must show."""
    good = account.quarantine(sqs_event("msg-ok", at("2026-11-29T10:00")))
    bad = account.quarantine(sqs_event("msg-bad", at("2026-11-29T10:00")))
    account.s3.put_object(Bucket=QUARANTINE, Key=bad, Body=b"{not json")
    account.targets.register("orders-worker", lambda _event, _context: None)
    result = run(account, "release", good, bad, "--reason", "false positive")
    assert result.code == 1
    assert "released: msg-ok" in result.out and f"failed: {bad}" in result.out


def test_a_corrupt_envelope_is_left_out_of_a_listing_with_a_warning(account: Account) -> None:
    good = account.quarantine(sqs_event("msg-ok", at("2026-11-29T10:00")))
    bad = account.quarantine(sqs_event("msg-bad", at("2026-11-29T10:00")))
    account.s3.put_object(Bucket=QUARANTINE, Key=bad, Body=b"{not json")
    err = io.StringIO()
    result = run(account, "list", err=err)
    assert result.code == 0 and "msg-ok" in result.out and good
    assert f"warning: s3://{QUARANTINE}/{bad} is not a readable envelope" in err.getvalue()


def test_show_cuts_an_attacker_chosen_object_key_to_an_excerpt(account: Account) -> None:
    long_key = "incoming/x' UNION SELECT card_number, cvv FROM cards -- <script>alert(document.cookie)</script>.jpg"
    key = account.quarantine(sqs_event("msg-k", at("2026-11-29T10:00")))
    _rewrite(account, key, objects=[{"bucket": "uploads", "key": long_key, "version_id": None, "copy_key": None}])
    shown = run(account, "show", key)
    as_json = run(account, "show", key, "--json")
    assert long_key not in shown.out and long_key not in as_json.out
    assert "incoming/x' UNION SELECT" in shown.out


@pytest.mark.parametrize("argv", [["list", "--since", "9999999999d"], ["export", "-o", "/nonexistent/dir/x.jsonl"]])
def test_bad_options_are_bad_input_not_a_traceback(account: Account, argv: list[str]) -> None:
    err = io.StringIO()
    assert run(account, *argv, err=err).code == 2 and "firewall quarantine:" in err.getvalue()


def test_a_release_by_no_one_known_is_refused(account: Account) -> None:
    """STS cannot say who is acting: nothing is delivered, since the history must name who did."""

    class NoSts:
        def get_caller_identity(self) -> Any:
            raise ConnectionError("sts unreachable")

    key = account.quarantine(sqs_event("msg-who", at("2026-11-29T10:00")))
    account.clients.sts = NoSts()
    err = io.StringIO()
    result = run(account, "release", key, "--reason", "false positive", err=err)
    assert result.code == 2 and "cannot tell who you are" in err.getvalue()
    assert account.targets.invocations == [] and account.envelope(key)["status"] == "pending"
    assert run(account, "release", key, "--reason", "checking", "--dry-run").code == 0


def test_a_record_deleted_while_its_release_takes_the_lock_is_not_delivered(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release read the envelope pending; by the time it held the lock, a reviewer had deleted
    the record. It reads the envelope again and stops."""
    key = account.quarantine(sqs_event("msg-race-delete", at("2026-11-29T10:00")))
    account.targets.register("orders-worker", lambda _event, _context: None)
    acquire = Releaser._acquire

    def acquire_then_delete(self: Releaser, stored: Any, lock: dict[str, Any]) -> bool:
        taken = acquire(self, stored, lock)
        envelope = account.envelope(key) | {"status": "deleted"}
        account.s3.put_object(Bucket=QUARANTINE, Key=key, Body=json.dumps(envelope).encode())
        return taken

    monkeypatch.setattr(Releaser, "_acquire", acquire_then_delete)
    result = run(account, "release", key, "--reason", "false positive")
    assert "deleted" in result.out and account.targets.invocations == []
    assert not account.exists(lock_key(key))


def test_delete_waits_for_no_release_in_progress(account: Account) -> None:
    key = account.quarantine(sqs_event("msg-locked", at("2026-11-29T10:00")))
    lock = {"state": "delivering", "by": "arn:aws:sts::1:assumed-role/reviewer", "at": "2026-11-29T10:05:00Z"}
    account.s3.put_object(Bucket=QUARANTINE, Key=lock_key(key), Body=json.dumps(lock).encode())
    result = run(account, "delete", key, "--reason", "cleanup")
    assert result.code == 1 and "holds the lock" in result.out
    assert account.envelope(key)["status"] == "pending"
