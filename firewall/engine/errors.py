"""Errors the engine raises: each names where the problem is and why."""

from __future__ import annotations


class FirewallError(Exception):
    """Base class for every error this package raises on purpose."""


class SignatureError(FirewallError):
    """A signature file is invalid; the whole file is rejected."""

    def __init__(self, path: str, line: int, reason: str, signature_id: str | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        self.signature_id = signature_id
        where = f"{path}:{line}" if line else path
        who = f" [{signature_id}]" if signature_id else ""
        super().__init__(f"{where}{who}: {reason}")


class UnknownEventError(FirewallError, ValueError):
    """A Lambda event has a shape no source recognises."""
