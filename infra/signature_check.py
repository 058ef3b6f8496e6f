"""Signatures are validated at synth: a bad file fails `cdk synth` with its path and line."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from firewall.engine.checks import check_examples
from firewall.engine.errors import SignatureError
from firewall.engine.loader import load_directory
from firewall.engine.model import Signature


@cache
def validate_signatures(directory: Path) -> tuple[Signature, ...]:
    """Loads every file (schema, ids, regexes) and runs every example; raises on the first problem."""
    signatures = load_directory(directory)
    for sig in signatures:
        problems = check_examples(sig)
        if problems:
            raise SignatureError(sig.file, sig.line, problems[0].message, sig.id)
    return signatures
