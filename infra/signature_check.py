"""Signatures are validated at synth: a bad file fails `cdk synth` with its path and line.

Beyond schema and examples, synth runs the lint checks whose failure a deployment would hide: a
prefilter or a screen that misses texts its regex matches (those attacks would pass unseen) and a
regex that backtracks without end on long input (every field holding its trigger would hit the time
budget and follow the error policy). Warnings (a slow but bounded regex, no derivable literal, a
pattern the screen cannot read) do not fail synth.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from firewall.engine.checks import (
    Problem,
    check_examples,
    check_prefilter_holds,
    check_screen_holds,
    probe_backtracking,
)
from firewall.engine.errors import SignatureError
from firewall.engine.loader import load_directory
from firewall.engine.model import Signature

SYNTH_CHECKS: tuple[Callable[[Signature], list[Problem]], ...] = (
    check_examples,
    check_prefilter_holds,
    check_screen_holds,
    probe_backtracking,
)


@cache
def validate_signatures(directory: Path) -> tuple[Signature, ...]:
    """Loads every file (schema, ids, regexes), then runs every example, the prefilter and screen
    soundness checks and the backtracking probe; raises on the first error."""
    signatures = load_directory(directory)
    for sig in signatures:
        for check in SYNTH_CHECKS:
            errors = [problem for problem in check(sig) if problem.level == "error"]
            if errors:
                raise SignatureError(sig.file, sig.line, errors[0].message, sig.id)
    return signatures
