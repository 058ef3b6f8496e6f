"""Shared helpers for the engine unit tests: signatures built in code, the fixture signature files."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firewall import DEFAULT_SIGNATURES
from firewall.engine.compiler import CompiledSignature
from firewall.engine.loader import load_directory
from firewall.engine.matcher import Hit
from firewall.engine.model import Severity, Signature

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "signatures"


def build_signature(**overrides: Any) -> Signature:
    """A valid signature; any field can be overridden (`severity` also as a plain string)."""
    fields: dict[str, Any] = {
        "id": "FW-UNIT-001",
        "title": "unit test signature",
        "family": "unit",
        "severity": Severity.CRITICAL,
        "paranoia": 1,
        "targets": ("any",),
        "transforms": (),
        "pattern": "attack",
        "match_examples": ("attack",),
        "no_match_examples": ("benign",),
    }
    fields.update(overrides)
    fields["severity"] = Severity(fields["severity"])
    for key in ("targets", "transforms", "prefilter", "match_examples", "no_match_examples", "tags"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return Signature(**fields)


@pytest.fixture
def make_sig() -> Callable[..., Signature]:
    return build_signature


@pytest.fixture
def make_hit() -> Callable[..., Hit]:
    """A matcher `Hit` for scoring tests: `make_hit(path="value", **signature_fields)`."""

    def make(path: str = "value", excerpt: str = "attack", **overrides: Any) -> Hit:
        sig = build_signature(**overrides)
        compiled = CompiledSignature(sig, sig.transforms, None, 0)
        return Hit(compiled, path, excerpt)

    return make


@functools.cache
def _bundled() -> tuple[Signature, ...]:
    return load_directory(DEFAULT_SIGNATURES)


@pytest.fixture(scope="session")
def bundled_signatures() -> tuple[Signature, ...]:
    """The shipped signature set, parsed once per test session (parsing it takes a while)."""
    return _bundled()


SqsEvent = Callable[..., dict[str, Any]]


@pytest.fixture
def sqs_event() -> SqsEvent:
    """`sqs_event(*bodies)`: an SQS event as Lambda delivers it, one record per body, ids msg-1, msg-2..."""

    def build(*bodies: str) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": f"msg-{number}",
                    "receiptHandle": "handle",
                    "body": body,
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": "0",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
                    "awsRegion": "us-east-1",
                }
                for number, body in enumerate(bodies, 1)
            ]
        }

    return build


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


def line_of(path: Path, marker: str, occurrence: int = 1) -> int:
    """1-based number of the line holding `marker` (its `occurrence`-th appearance) in a file."""
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if marker in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{marker!r} not found {occurrence} time(s) in {path}")


@pytest.fixture(scope="session")
def find_line() -> Callable[..., int]:
    return line_of
