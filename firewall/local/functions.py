"""Execution environments for the deployed functions, on this machine.

`FirewallFunction` runs the firewall's own entry point (`firewall.runtime.handler.handler`) with
exactly the environment the template gave the deployed function (read back from the account): the
cold start reads its settings from `os.environ` as in Lambda, here swapped in for each invocation.
Its Lambda client is hooked by `LocalTargets`, so the firewall's calls to its target run the
target's own code (`TargetFunction`: the handler from the function's code asset, i.e. the sample
target as deployed). Whatever a function prints is its log, as in Lambda: kept per function, and
the firewall's audit lines are parsed for the summary.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..runtime import handler as entry
from .account import Function
from .targets import LocalTargets

ENVIRONMENT_PREFIX = "FIREWALL_"


@dataclass
class LambdaContext:
    """The members of Lambda's context object that handlers use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Outcome:
    """One invocation: the handler's result, or the error Lambda would report (FunctionError)."""

    result: Any = None
    error: str | None = None
    log: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


class LogSink:
    """Where functions' log lines go: a file per function, and listeners (the summary)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.listeners: list[Callable[[str, list[str]], None]] = []

    def write(self, function: str, lines: list[str]) -> None:
        with (self.directory / f"{function}.log").open("a", encoding="utf-8", errors="backslashreplace") as file:
            file.writelines(line + "\n" for line in lines)
        for listener in self.listeners:
            listener(function, lines)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _context(function: Function) -> LambdaContext:
    return LambdaContext(
        function_name=function.name,
        invoked_function_arn=function.arn,
        memory_limit_in_mb=function.memory,
        timeout=function.timeout,
        log_group_name=function.log_group or f"/aws/lambda/{function.name}",
    )


def _report(context: LambdaContext, started: float, function: Function) -> list[str]:
    took = (time.perf_counter() - started) * 1000
    return [
        f"REPORT RequestId: {context.aws_request_id}\tDuration: {took:.2f} ms\tMemory Size: {function.memory} MB",
    ]


class FirewallFunction:
    """One deployed firewall function, run here with its deployed environment."""

    def __init__(self, function: Function, targets: LocalTargets, logs: LogSink) -> None:
        self.function = function
        self.targets = targets
        self.logs = logs
        self.state: entry.ColdStart | None = None
        self.invocations = 0

    @contextlib.contextmanager
    def _environment(self) -> Iterator[None]:
        """os.environ as the function sees it: the process's (endpoint, credentials, region) with
        every FIREWALL_* setting replaced by the function's own, plus Lambda's reserved names."""
        saved = dict(os.environ)
        try:
            for name in [n for n in os.environ if n.startswith(ENVIRONMENT_PREFIX)]:
                del os.environ[name]
            os.environ.update(self.function.environment)
            os.environ.update(
                {
                    "AWS_LAMBDA_FUNCTION_NAME": self.function.name,
                    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.function.memory),
                    "AWS_LAMBDA_LOG_GROUP_NAME": self.function.log_group or f"/aws/lambda/{self.function.name}",
                }
            )
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def _cold_start(self) -> entry.ColdStart:
        state = entry.ColdStart.from_environment()
        self.targets.attach(state.processor().forwarder.client)
        return state

    def invoke(self, event: dict[str, Any]) -> Outcome:
        context = _context(self.function)
        started = time.perf_counter()
        buffer = io.StringIO()
        outcome = Outcome()
        header = [f"START RequestId: {context.aws_request_id} Version: $LATEST"]
        with self._environment(), contextlib.redirect_stdout(buffer):
            try:
                if self.state is None:
                    self.state = self._cold_start()
                previous, entry._state = entry._state, self.state
                try:
                    outcome.result = entry.handler(event, context)
                finally:
                    entry._state = previous
            except Exception as exc:
                outcome.error = f"{type(exc).__name__}: {exc}"
                buffer.write(
                    json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__})
                    + "\n"
                    + "".join(traceback.format_exception(exc)[-3:])
                )
        self.invocations += 1
        outcome.duration_ms = (time.perf_counter() - started) * 1000
        outcome.log = _lines(buffer.getvalue())
        self.logs.write(self.function.name, [*header, *outcome.log, *_report(context, started, self.function)])
        return outcome


class TargetFunction:
    """A target function's handler, loaded from its code asset and run when the firewall invokes it."""

    def __init__(self, function: Function, logs: LogSink) -> None:
        self.function = function
        self.logs = logs
        if function.code_dir is None:
            raise RuntimeError(
                f"target {function.name} has no code in this app: the local account runs targets the app deploys "
                "(sample targets); point a route at `target: {sample: ...}` to try it here"
            )
        self.handler = _load_handler(function.code_dir, function.handler, function.name)

    def __call__(self, event: dict[str, Any], _unused: Any) -> Any:
        context = _context(self.function)
        started = time.perf_counter()
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer):
                return self.handler(event, context)
        finally:
            self.logs.write(
                self.function.name,
                [
                    f"START RequestId: {context.aws_request_id} Version: $LATEST",
                    *_lines(buffer.getvalue()),
                    *_report(context, started, self.function),
                ],
            )


def _load_handler(code_dir: Path, handler: str, function: str) -> Callable[[dict[str, Any], Any], Any]:
    """`module.function` (or `package.module.function`) from a function's code directory."""
    module_path, _, name = handler.rpartition(".")
    file = code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    if not module_path or not file.is_file():
        raise RuntimeError(f"{function}: handler {handler!r} not found in its code ({file})")
    module_name = f"_firewall_local_{function.replace('-', '_')}_{module_path.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"{function}: cannot load {file}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    function_object = getattr(module, name, None)
    if not callable(function_object):
        raise RuntimeError(f"{function}: {handler!r} is not a function")
    return function_object  # type: ignore[no-any-return]


def bundle_differences(code_dir: Path | None, package: Path, signatures: Path) -> list[str]:
    """Files of the deployed firewall bundle whose content differs from the code run here."""
    if code_dir is None:
        return ["the firewall's code asset is not in the assembly"]
    different = []
    for path in sorted((code_dir / "firewall").rglob("*.py")):
        local = package / path.relative_to(code_dir / "firewall")
        if not local.is_file() or local.read_bytes() != path.read_bytes():
            different.append(f"firewall/{path.relative_to(code_dir / 'firewall')}")
    for path in sorted((code_dir / "signatures").glob("*.y*ml")):
        local = signatures / path.name
        if not local.is_file() or local.read_bytes() != path.read_bytes():
            different.append(f"signatures/{path.name}")
    return different
