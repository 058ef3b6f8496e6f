"""`LocalAccount`: the whole firewall running in an AWS account on this machine.

1. a moto server on a free loopback port (`server`);
2. the CDK app synthesized, bootstrapped and deployed into it with the CDK CLI (`deploy`), and
   what moto's CloudFormation leaves undone applied (`account`);
3. the deployed firewall functions run here with their deployed environment, fed by pollers in
   place of Lambda's event source mappings and S3's invocations (`functions`, `pollers`), their
   targets served by the targets' own code through `LocalTargets`;
4. traffic sent (`traffic`), processed until the sources are drained, and accounted for.

Used by `firewall local` / `firewall demo` and by the end-to-end test:

    with LocalAccount(project) as local:
        sent = local.send(traffic.SMALL)
        local.settle()
        assert local.accounting(sent).holds
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from ..api import DEFAULT_SIGNATURES
from ..runtime.clients import aws_client
from . import deploy
from .account import BucketSource, Deployment, QueueSource, apply_template_gaps, discover
from .accounting import Accounting, Envelope, RouteTally, account, identity
from .functions import FirewallFunction, LogSink, TargetFunction, bundle_differences
from .pollers import Poller, make_poller
from .server import MotoServer
from .targets import LocalTargets
from .traffic import Sample, Sent, send

SETTLE_TIMEOUT = 60.0


class Reporter(Protocol):
    """Where progress goes (the CLI's spinner or plain lines; nothing in tests)."""

    def step(self, text: str) -> None: ...

    def done(self, text: str) -> None: ...

    def tick(self, text: str | None = None) -> None: ...

    def info(self, text: str) -> None: ...


class Silent:
    def step(self, text: str) -> None:
        pass

    def done(self, text: str) -> None:
        pass

    def tick(self, text: str | None = None) -> None:
        pass

    def info(self, text: str) -> None:
        pass


class Clients:
    """The local account's clients, made once its endpoint is in the environment."""

    def __init__(self) -> None:
        self.cloudformation = aws_client("cloudformation")
        self.lambda_ = aws_client("lambda")
        self.sqs = aws_client("sqs")
        self.s3 = aws_client("s3")
        self.dynamodb = aws_client("dynamodb")
        self.streams = aws_client("dynamodbstreams")


@dataclass
class RecordLog:
    """The last audit line of each record, per route: the firewall's own account of its work."""

    outcomes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    listeners: list[Callable[[str, dict[str, Any]], None]] = field(default_factory=list)

    def add(self, route: str, lines: list[str]) -> None:
        for line in lines:
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "outcome" in entry and "record_id" in entry:
                self.outcomes.setdefault(route, {})[str(entry["record_id"])] = entry
                for listener in self.listeners:
                    listener(route, entry)

    def tally(self, route: str) -> RouteTally:
        tally = RouteTally()
        for entry in self.outcomes.get(route, {}).values():
            tally.received += 1
            outcome = entry.get("outcome")
            if outcome == "forwarded":
                tally.forwarded += 1
            elif outcome == "quarantined":
                tally.quarantined += 1
            else:
                tally.failed += 1
            if entry.get("detected"):
                tally.signatures.update(entry.get("signatures", []))
        return tally


class LocalAccount:
    def __init__(
        self,
        project: Path,
        *,
        config: str | None = None,
        fresh: bool = False,
        reporter: Reporter | None = None,
    ) -> None:
        self.project = project.resolve()
        self.config = config
        self.fresh = fresh
        self.reporter: Reporter = reporter or Silent()
        self.workdir = Path(tempfile.mkdtemp(prefix="firewall-local-"))
        (self.workdir / "logs").mkdir()
        self.server = MotoServer(self.workdir / "moto.log")
        self.cdk: deploy.Cdk | None = None
        self.timings: dict[str, float] = {}
        self.assembly: deploy.Assembly | None = None
        self.deployment: Deployment | None = None
        self.clients: Clients | None = None
        self.targets = LocalTargets()
        self.logs = LogSink(self.workdir / "logs")
        self.records = RecordLog()
        self.pollers: list[Poller] = []
        self.warnings: list[str] = []
        self._saved_environment: dict[str, str] | None = None
        self._previous_handlers: dict[int, Any] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> LocalAccount:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def start(self) -> None:
        self._previous_handlers = _interrupt_on_termination()
        self._timed("server", self._start_server)
        self._deploy()
        self._timed("wiring", self._wire)

    def close(self) -> None:
        if self.cdk is not None:
            self.cdk.stop()
        self.server.stop()
        if self._saved_environment is not None:
            os.environ.clear()
            os.environ.update(self._saved_environment)
            self._saved_environment = None
        shutil.rmtree(self.workdir, ignore_errors=True)
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        self._previous_handlers = {}

    def _timed(self, name: str, step: Callable[[], None]) -> None:
        started = time.perf_counter()
        step()
        self.timings[name] = time.perf_counter() - started

    # -- 1. the server --------------------------------------------------------------------------

    def _start_server(self) -> None:
        self.reporter.step("starting the moto server")
        self.server.start()
        self._saved_environment = dict(os.environ)
        environment = deploy.aws_environment(self.endpoint)
        os.environ.clear()
        os.environ.update(environment)
        self.reporter.done(f"moto server at {self.endpoint} (pid {self.server.pid})")

    # -- 2. synth, bootstrap, deploy ------------------------------------------------------------

    def _deploy(self) -> None:
        cdk = self.cdk = deploy.Cdk(self.project, dict(os.environ), self.workdir, self.config)
        key = deploy.assembly_key(self.project, self.config)
        cached = None if self.fresh else deploy.cached_assembly(self.project, key)
        started = time.perf_counter()
        synth = staging = final = None
        if cached is None:
            staging, final = deploy.new_assembly_dir(self.project, key)
            synth = cdk.start("synth", cdk.synth_command(staging))
            self.reporter.step("synthesizing the CDK app (cdk synth) and bootstrapping the account")
        else:
            self.reporter.step("bootstrapping the account (cdk bootstrap)")
        try:
            # The bootstrap template needs no app: it runs beside the synth, from a folder without cdk.json.
            bootstrap = cdk.start("bootstrap", cdk.bootstrap_command(), cwd=self.workdir)
            cdk.finish("bootstrap", bootstrap, wait=self._tick)
            self.timings["bootstrap"] = time.perf_counter() - started
            if synth is not None and staging is not None and final is not None:
                cdk.finish("synth", synth, wait=self._tick)
                cached = deploy.keep_assembly(staging, final)
                self.timings["synth"] = time.perf_counter() - started
        finally:
            if staging is not None and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)  # a synth that did not complete
        assert cached is not None
        self.assembly = deploy.load_assembly(cached, cached=synth is None)
        what = "synthesized" if synth is not None else "cached synth reused"
        self.reporter.done(f"{what}, account bootstrapped ({time.perf_counter() - started:.1f} s)")
        started = time.perf_counter()
        self.reporter.step(f"deploying {self.assembly.stack_name} (cdk deploy)")
        process = cdk.start("deploy", cdk.deploy_command(cached, self.assembly.stack_name), cwd=self.workdir)
        cdk.finish("deploy", process, wait=self._tick)
        self.timings["deploy"] = time.perf_counter() - started
        self.reporter.done(f"deployed {self.assembly.stack_name} ({self.timings['deploy']:.1f} s)")

    def _tick(self) -> None:
        self.reporter.tick()
        time.sleep(0.1)

    # -- 3. the local runtime -------------------------------------------------------------------

    def _wire(self) -> None:
        assert self.assembly is not None
        self.reporter.step("reading the stack back and wiring the local runtime")
        clients = self.clients = Clients()
        deployment = self.deployment = discover(clients, self.assembly)
        apply_template_gaps(clients, self.assembly, deployment)
        for route in deployment.routes:
            if route.target.name not in self.targets.handlers:
                self.targets.register(route.target.name, TargetFunction(route.target, self.logs))
            function = FirewallFunction(route.function, self.targets, self.logs)
            self.logs.listeners.append(_route_listener(route.function.name, route.name, self.records))
            self.pollers.append(make_poller(route, function, clients))
        differences = bundle_differences(
            deployment.routes[0].function.code_dir, Path(__file__).resolve().parent.parent, DEFAULT_SIGNATURES
        )
        if differences:
            self.warnings.append(
                f"the deployed bundle differs from the code run here in {len(differences)} file(s): "
                + ", ".join(differences[:5])
            )
        self.reporter.done(f"{len(deployment.routes)} route(s) served locally: {', '.join(self.describe_routes())}")

    def describe_routes(self) -> list[str]:
        assert self.deployment is not None
        return [f"{r.name} ({r.source.kind} -> {r.target.handler})" for r in self.deployment.routes]

    # -- 4. traffic, processing, accounting -----------------------------------------------------

    def send(self, samples: list[Sample]) -> list[Sent]:
        assert self.clients is not None and self.deployment is not None
        return send(self.clients, self.deployment.routes, samples)

    def pump(self) -> int:
        """One round over every poller; the number of records delivered."""
        return sum(poller.poll() for poller in self.pollers)

    def settle(self, timeout: float = SETTLE_TIMEOUT, tick: Callable[[], None] | None = None) -> bool:
        """Polls until every source is drained and nothing waits for a retry (or `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pump() == 0 and all(poller.idle() for poller in self.pollers):
                return True
            if tick:
                tick()
            time.sleep(0.05)
        return False

    def tally(self, route: str) -> RouteTally:
        return self.records.tally(route)

    def accounting(self, sent: list[Sent]) -> Accounting:
        assert self.clients is not None and self.deployment is not None
        clients, deployment = self.clients, self.deployment
        envelopes, copies = [], {}
        for bucket in deployment.quarantine_buckets:
            for key in _keys(clients.s3, bucket):
                body = clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                if key.endswith(".json"):
                    envelopes.append(Envelope(key, json.loads(body)))
                else:
                    copies[key] = body
        leftovers = {}
        for route in deployment.routes:
            urls = []
            if isinstance(route.source, BucketSource):
                urls.append(route.source.queue_url)
            elif isinstance(route.source, QueueSource):
                urls.append(route.source.url)
            for arn in route.failure_queues:
                urls.append(clients.sqs.get_queue_url(QueueName=arn.split(":")[5])["QueueUrl"])
            for url in urls:
                attributes = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                leftovers[url.rsplit("/", 1)[-1]] = int(attributes["ApproximateNumberOfMessages"]) + int(
                    attributes["ApproximateNumberOfMessagesNotVisible"]
                )
        delivered = {p.route.name: {identity(p.route, d.record): d for d in p.delivered.values()} for p in self.pollers}
        errors = {p.route.name: p.errors for p in self.pollers}
        invocations = self.targets.invocations
        return account(deployment, sent, delivered, invocations, envelopes, leftovers, errors, copies)


def _route_listener(function: str, route: str, records: RecordLog) -> Callable[[str, list[str]], None]:
    def listener(name: str, lines: list[str]) -> None:
        if name == function:
            records.add(route, lines)

    return listener


def _keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def _interrupt_on_termination() -> dict[int, Any]:
    """SIGTERM (`kill`) and SIGHUP (a closed terminal) unwind like Ctrl-C, so cleanup runs."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    for number in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[number] = signal.signal(number, interrupt)
    return previous
