"""Handler overhead: what the proxy function adds per record, beside the engine's own cost.

    python bench/handler.py [--rounds N]

Runs the real `Processor` (settings from FIREWALL_* variables, real boto3 clients) on SQS events of
benign 1 KB orders in batches of 10 and on one 256 KB record. The target is excluded: the Lambda
client's Invoke is answered in-process by a no-op local target (firewall.local.targets), so what is
timed is parsing, inspection, batch bookkeeping, building the forwarded event and the boto3 call
path, audit lines and metrics. Nothing leaves the machine; output of the audit is discarded.

Records per second of a 1,024 MB function are estimated from this machine's CPU time: Lambda gives
a function 1 vCPU at 1,769 MB and CPU in proportion below that, so 1,024 MB is about 0.58 of a vCPU.
An estimate only: the stack's functions run on arm64 (Graviton), whose speed per core differs from the
machine this runs on; measure in the account for a figure to plan capacity with.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import performance  # the benign documents and SQS event shapes of the engine benchmark

VCPU_AT_1024_MB = 1024 / 1769


def _processor() -> Any:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # a dummy: no AWS call leaves the process
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        FIREWALL_ROUTE="orders",
        FIREWALL_TARGET="orders-target",
        FIREWALL_QUARANTINE_BUCKET="quarantine",
    )
    from firewall.local.targets import LocalTargets
    from firewall.runtime.handler import ColdStart

    processor = ColdStart.from_environment().processor()
    targets = LocalTargets()
    targets.register("orders-target", lambda event, context: {"batchItemFailures": []})
    targets.attach(processor.forwarder.client)
    processor.audit.write = lambda line: None
    return processor


def _time(processor: Any, events: list[dict[str, Any]], rounds: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) per event."""
    walls, cpus = [], []
    for _ in range(rounds):
        for event in events:
            wall, cpu = time.perf_counter(), time.process_time()
            result = processor.handle(event)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert result == {"batchItemFailures": []}, result
    return statistics.median(walls), statistics.median(cpus)


def _engine(events: list[dict[str, Any]], rounds: int) -> float:
    from firewall import Firewall

    firewall = Firewall.load()
    cpus = []
    for _ in range(rounds):
        for event in events:
            cpu = time.process_time()
            firewall.inspect_event(event)
            cpus.append(time.process_time() - cpu)
    return statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    processor = _processor()
    small = [performance.sqs_event([performance.order_body(rng) for _ in range(10)], rng) for _ in range(20)]
    large = [performance.sqs_event([performance.catalog_body(rng)], rng)]
    _time(processor, small[:2] + large, 1)  # warm: compile the regexes the data needs
    wall, cpu = _time(processor, small, args.rounds)
    engine = _engine(small, args.rounds)
    print("handler, SQS batches of 10 x 1 KB benign orders (target excluded)")
    print(f"  per record   wall {wall / 10 * 1e3:7.3f} ms   cpu {cpu / 10 * 1e3:7.3f} ms")
    print(f"  engine alone (inspect_event)     cpu {engine / 10 * 1e3:7.3f} ms")
    print(f"  handler overhead beyond the engine  {(cpu - engine) / 10 * 1e3:7.3f} ms per record")
    print(f"  records/s of a 1,024 MB function  ~{VCPU_AT_1024_MB / (cpu / 10):,.0f} (estimate: this machine's CPU)")
    wall, cpu = _time(processor, large, max(3, args.rounds))
    engine = _engine(large, max(3, args.rounds))
    print("handler, one SQS record with a 256 KB benign JSON body")
    print(f"  per record   wall {wall * 1e3:7.1f} ms   cpu {cpu * 1e3:7.1f} ms")
    print(f"  engine alone (inspect_event)     cpu {engine * 1e3:7.1f} ms")
    print(f"  records/s of a 1,024 MB function  ~{VCPU_AT_1024_MB / cpu:,.1f} (estimate: this machine's CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
