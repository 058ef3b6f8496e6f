"""Fixtures of the functional tests: a moto server process for the session, reset before every
test, and the firewall built the way `firewall.runtime.handler.ColdStart` builds it (settings from
`FIREWALL_*` variables, clients from `firewall.runtime.clients`), with its Lambda client wired to
target functions that exist in moto and run their Python code here through `LocalTargets`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fw_functional import (
    CUSTOM_SIGNATURES,
    QUARANTINE,
    REGION,
    ROUTE,
    Account,
    Deployed,
    Harness,
    Target,
    post,
)

from firewall.local.targets import LocalTargets
from firewall.runtime import handler as handler_module
from firewall.runtime.clients import aws_client
from firewall.runtime.handler import ColdStart
from firewall.runtime.processor import Processor


@pytest.fixture(scope="session")
def custom_signatures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A signature directory of a route's own (FIREWALL_SIGNATURES)."""
    directory = tmp_path_factory.mktemp("signatures")
    (directory / "acme.yaml").write_text(CUSTOM_SIGNATURES, encoding="utf-8")
    return directory


_PROCESSORS: dict[Any, Processor] = {}


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Account:
    """A fresh moto account (reset), and an environment pointing every boto3 client at it."""
    post(moto_server + "/moto-api/reset")
    post(moto_server + "/moto-api/config", {"lambda": {"use_docker": False}})
    for name in list(os.environ):
        if name.startswith("FIREWALL_") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    handler_module.reset()
    return Account(moto_server)


@pytest.fixture
def make_firewall(aws: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Harness]]:
    """`make_firewall(**settings)`: FIREWALL_* variables set (route `orders`, a target function made
    in moto, the quarantine bucket made unless `quarantine=False`, the bundled signature set, and
    any `name=value` given), then the processor built exactly as the Lambda handler's cold start
    builds it, its Lambda client wired to a local target.

    Making boto3 clients costs a few hundred milliseconds, so one processor is built per distinct
    configuration and session; each test gets its own target, log and hooks, removed afterwards
    (the processor itself keeps no state between invocations)."""
    functions: dict[str, str] = {}
    harnesses: list[Harness] = []

    def make(*, target_name: str = "orders-worker", quarantine: bool = True, **settings: str | None) -> Harness:
        if quarantine and QUARANTINE not in aws.buckets():
            aws.quarantine_bucket()
        if target_name not in functions:
            functions[target_name] = aws.function(target_name)
        env: dict[str, str | None] = {
            "ROUTE": ROUTE,
            "TARGET": functions[target_name],
            "QUARANTINE_BUCKET": QUARANTINE,
        }
        env.update({name.upper(): value for name, value in settings.items()})
        for name in [n for n in os.environ if n.startswith("FIREWALL_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            if value is not None:  # None: leave the variable unset (its default applies)
                monkeypatch.setenv("FIREWALL_" + name, value)
        key = tuple(sorted(env.items(), key=str))
        if key not in _PROCESSORS:
            _PROCESSORS[key] = ColdStart.from_environment().processor()
        processor = _PROCESSORS[key]
        targets = LocalTargets()
        target = Target()
        targets.register(functions[target_name], target)
        log: list[str] = []
        processor.audit.write = log.append
        harness = Harness(processor, targets, target, functions[target_name], log)
        harness.hook(processor.forwarder.client, "before-call.lambda.Invoke", targets._invoke)
        harnesses.append(harness)
        return harness

    yield make
    for harness in harnesses:
        harness.unhook()


@pytest.fixture
def deploy(aws: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Deployed]]:
    """`deploy(**settings)`: the firewall function as Lambda runs it, `handler.handler(event,
    context)`, configured only through its environment (the bundled signature set unless
    `signatures=` is given); its target runs locally behind the Lambda client the cold start makes.
    Its audit trail goes to standard output, as in Lambda; the test reads it (`Deployed.output`),
    and it stays off the terminal even under `pytest -s`."""

    def make(**settings: str) -> Deployed:
        aws.quarantine_bucket()
        target_arn = aws.function("orders-worker")
        env = {"ROUTE": ROUTE, "TARGET": target_arn, "QUARANTINE_BUCKET": QUARANTINE}
        env.update({name.upper(): value for name, value in settings.items()})
        for name, value in env.items():
            monkeypatch.setenv("FIREWALL_" + name, value)
        targets = LocalTargets()
        target = Target()
        targets.register(target_arn, target)

        def client(service: str, **overrides: Any) -> Any:
            made = aws_client(service, **overrides)
            return targets.attach(made) if service == "lambda" else made

        monkeypatch.setattr(handler_module, "aws_client", client)
        handler_module.reset()
        return Deployed(targets, target, target_arn, io.StringIO())

    yield make
    handler_module.reset()
