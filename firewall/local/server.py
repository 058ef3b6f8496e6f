"""The local account's AWS endpoint: a moto server process on a free loopback port.

`python -m firewall.local.server -H 127.0.0.1 -p PORT` is moto's own server (what `moto_server`
runs) with one change: event source mappings are recorded but not run by moto. Moto runs them
itself, synchronously inside the write that feeds them, against function code it cannot execute
without Docker: an SQS mapping receives and deletes every message as it is sent, and a DynamoDB
mapping empties the stream after each write (and fails the write with HTTP 500 once an item holds
a binary attribute). The local runner is the mapping here, polling the sources the way Lambda's
pollers do, so moto must leave the sources alone. Every other API behaves as in `moto_server`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """The moto server could not be started."""


def _detach_event_source_mappings() -> None:
    """Keeps moto from running event source mappings (see the module's docstring)."""
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        mapping = original(self, spec)
        for holders in _mapping_holders(self.account_id, self.region_name):
            for key, value in list(holders.items()):
                if value is mapping:
                    del holders[key]
        return mapping

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]


def _mapping_holders(account: str, region: str) -> list[dict[str, Any]]:
    """The dictionaries through which moto's queues, tables and streams find their mappings."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.kinesis.models import kinesis_backends
    from moto.sqs.models import sqs_backends

    holders: list[dict[str, Any]] = []
    holders += [q.lambda_event_source_mappings for q in sqs_backends[account][region].queues.values()]
    holders += [t.lambda_event_source_mappings for t in dynamodb_backends[account][region].tables.values()]
    holders += [s.lambda_event_source_mappings for s in kinesis_backends[account][region].streams.values()]
    return holders


def main(argv: list[str] | None = None) -> None:
    _detach_event_source_mappings()
    from moto.server import main as moto_main

    moto_main(argv)


# -- managing the process -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM if the runner dies without cleaning up (kill -9)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _python_path() -> str:
    """This package importable in the child whatever its working directory."""
    root = str(Path(__file__).resolve().parent.parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + existing if existing else "")


class MotoServer:
    """A moto server process on a free loopback port. `endpoint` uses `localhost` (the CDK CLI's
    asset upload fails with 127.0.0.1)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def start(self, attempts: int = 5) -> MotoServer:
        for _ in range(attempts):
            self.port = free_port()
            if self._launch():
                self.configure({"lambda": {"use_docker": False}})
                return self
        raise ServerError(f"moto server did not start:\n{self._tail()}")

    def _launch(self) -> bool:
        """Starts the process; False when the port was taken in the meantime (try another)."""
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
                [sys.executable, "-m", "firewall.local.server", "-H", HOST, "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": _python_path()},
            )
        finally:
            log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        marker = f"Running on http://{HOST}:{self.port}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # exited: most likely "Address already in use"
            if marker in self.log_path.read_text(errors="replace"):
                return True  # it is our process that listens on the port
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"moto server did not answer within {READY_TIMEOUT:.0f} s:\n{self._tail()}")

    def _tail(self, lines: int = 12) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join("    " + line for line in text.splitlines()[-lines:])

    def configure(self, config: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"http://{HOST}:{self.port}/moto-api/config",
            data=json.dumps(config).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


if __name__ == "__main__":
    main()
