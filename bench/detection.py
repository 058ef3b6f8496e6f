"""Detection benchmark: share of attack payloads detected and of benign payloads flagged, per family.

    python bench/detection.py CORPUS_DIR [--paranoia N] [--family F] [--show-misses N] [--show-fp N]

CORPUS_DIR holds gzip'd JSON Lines files (source, family, subfamily, payload, expect, trivial). Each
non-trivial payload is counted once per family (the collections repeat some: a repeat would weigh
twice) and placed where an attacker would put it: a string value in an SQS JSON body, an S3 object
key under `incoming/` (URL-encoded as S3 notifications deliver it; a key over S3's 1,024 bytes of
UTF-8 cannot exist and is skipped) and a DynamoDB stream string attribute; each placement goes
through `Firewall.inspect_event`, the way the Lambda function sees it. Attack families this product
has no signatures for (open redirects, scanner user agents, mixed API probes) are reported apart, as
`out-of-scope`. `--quick` inspects the bare payload instead (fast, for tuning).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firewall import Firewall

# Corpus (family, subfamily) -> the signature family that owns the technique. None: out of scope.
FAMILY_OF = {
    ("generic", "nosql"): "nosqli",
    ("generic", "xxe"): "xxe",
    ("generic", "ssti"): "ssti",
    ("generic", "ssi"): "ssti",
    ("generic", "ldap"): "ldap",
    ("java", "log4shell"): "jndi",
    ("nodejs", "prototype-pollution"): "prototype",
    ("other", "crlf"): "crlf",
    ("other", "mail-injection"): "crlf",
    ("other", "open-redirect"): None,
    ("other", "scanner-user-agent"): None,
    ("other", "api-mixed"): None,
}
S3_KEY_LIMIT = 1024
"""Bytes of an S3 object key (UTF-8), its prefix included."""
S3_KEY_PREFIX = "incoming/"
PLACEMENTS = ("sqs", "s3", "dynamodb")


def scope(case: dict[str, Any]) -> str | None:
    family, sub = case["family"], case.get("subfamily") or ""
    if (family, sub) in FAMILY_OF:
        return FAMILY_OF[(family, sub)]
    if family == "other" and case["expect"] == "attack":
        return None
    return family if case["expect"] == "attack" else "benign"


def read_corpus(folder: Path) -> Iterator[dict[str, Any]]:
    files = sorted(folder.glob("*.jsonl.gz"))
    if not files:
        raise SystemExit(f"no *.jsonl.gz files in {folder}")
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)


def sqs_event(payload: str) -> dict[str, Any]:
    body = json.dumps({"orderId": "o-1001", "customer": {"note": payload}, "items": [{"sku": "A-1", "qty": 2}]})
    return {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000",
                               "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1700000000001"},
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
                "awsRegion": "us-east-1",
            }
        ]
    }


def s3_event(payload: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-29T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "upload",
                    "bucket": {"name": "uploads", "arn": "arn:aws:s3:::uploads"},
                    "object": {"key": S3_KEY_PREFIX + quote_plus(payload, safe="/"), "size": 10,
                               "eTag": "0", "sequencer": "0A1B"},
                },
            }
        ]
    }


def dynamodb_event(payload: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventID": "e-1",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "Keys": {"pk": {"S": "customer#1"}},
                    "NewImage": {"pk": {"S": "customer#1"}, "comment": {"S": payload}, "n": {"N": "1"}},
                    "SequenceNumber": "111",
                    "SizeBytes": 26,
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026",
            }
        ]
    }


BUILDERS = {"sqs": sqs_event, "s3": s3_event, "dynamodb": dynamodb_event}


def flagged(firewall: Firewall, payload: str, placement: str, quick: bool) -> bool:
    if quick:
        return firewall.inspect(payload).detected
    return firewall.inspect_event(BUILDERS[placement](payload))[0].detected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--signatures", default=None)
    parser.add_argument("--paranoia", type=int, default=1)
    parser.add_argument("--family", help="only this family (our name: sqli, xss, rce, ...; or benign)")
    parser.add_argument("--quick", action="store_true", help="inspect bare payloads, one placement")
    parser.add_argument("--show-misses", type=int, default=0, metavar="N")
    parser.add_argument("--show-fp", type=int, default=0, metavar="N")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    firewall = Firewall.load(args.signatures, paranoia=args.paranoia)
    placements = ("value",) if args.quick else PLACEMENTS
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses: dict[str, list[str]] = defaultdict(list)
    fps: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    repeats = 0
    started = time.perf_counter()
    for case in read_corpus(args.corpus):
        if case.get("trivial"):
            continue
        family = scope(case) or "out-of-scope"
        if args.family and family != args.family:
            continue
        payload = case["payload"]
        if (family, payload) in seen:
            repeats += 1
            continue
        seen.add((family, payload))
        row = counts[family]
        row["n"] += 1
        for placement in placements:
            if placement == "s3" and len((S3_KEY_PREFIX + payload).encode()) > S3_KEY_LIMIT:
                row["s3.skipped"] += 1
                continue
            row[f"{placement}.n"] += 1
            hit = flagged(firewall, payload, placement, args.quick)
            row[f"{placement}.hit"] += hit
            if family == "benign" and hit:
                fps.append((placement, payload))
            elif family != "benign" and not hit and placement == placements[0]:
                misses[family].append(payload)
    elapsed = time.perf_counter() - started

    report = {}
    for family, row in sorted(counts.items()):
        report[family] = {"n": row["n"]} | {
            p: round(100.0 * row[f"{p}.hit"] / row[f"{p}.n"], 2) for p in placements if row[f"{p}.n"]
        }
        if row["s3.skipped"]:
            report[family]["s3_too_long"] = row["s3.skipped"]  # the s3 share is of the others
    skipped = sum(row["s3.skipped"] for row in counts.values())
    if args.json:
        document = {"paranoia": args.paranoia, "seconds": round(elapsed, 1), "repeats_skipped": repeats}
        print(json.dumps(document | {"s3_too_long": skipped, "families": report}, indent=2))
    else:
        header = "  ".join(f"{p:>9}" for p in placements)
        print(f"paranoia {args.paranoia}, signature set {firewall.version}, {elapsed:.1f}s")
        print(f"distinct payloads per family ({repeats} repeats skipped); {skipped} too long for an S3 key")
        print(f"{'family':<14} {'cases':>7}  {header}   (% flagged per placement)")
        for family, row in report.items():
            cells = "  ".join(f"{row.get(p, float('nan')):>8.2f}%" for p in placements)
            print(f"{family:<14} {row['n']:>7}  {cells}")
        in_scope = [f for f in report if f not in ("benign", "out-of-scope")]
        worst = min((min(report[f].get(p, 100.0) for p in placements), f) for f in in_scope) if in_scope else None
        if worst:
            print(f"lowest in-scope detection: {worst[0]:.2f}% ({worst[1]})")
    for family, items in misses.items():
        for payload in items[: args.show_misses]:
            print(f"MISS {family}: {payload[:200]!r}")
    for placement, payload in fps[: args.show_fp]:
        print(f"FP {placement}: {payload[:200]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
