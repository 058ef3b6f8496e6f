"""Checks behind `firewall signatures test` and `lint`: examples behave, the prefilter and the screen
hold, no runaway regex."""

from __future__ import annotations

import time
from dataclasses import dataclass

import re2
import regex

from .compiler import compile_signatures
from .literals import derive_literals, fold
from .matcher import Limits, inspect_fields
from .model import Signature
from .relaxed import Unrelaxable, relaxed
from .sampling import sample_matches
from .transforms import apply_chain

EXAMPLE_LIMITS = Limits(regex_timeout=1.0, record_budget=5.0)
PROBE_LENGTH = 20_000
PROBE_TIMEOUT = 0.25
SLOW_PROBE = 0.05
PROBE_CHARACTERS = " \t\n'\"`<>/\\.%&;|$(){}[]=:,-+*#!?@_0aA1~^"


@dataclass(frozen=True)
class Problem:
    signature: Signature
    level: str
    """"error" (the file is not fit to ship) or "warning"."""
    message: str

    def __str__(self) -> str:
        return f"{self.signature.file}:{self.signature.line} [{self.signature.id}] {self.level}: {self.message}"


def example_path(sig: Signature) -> str:
    """A field path the signature targets, so its examples are tested where it applies."""
    if sig.applies_everywhere:
        return "value"
    return sig.targets[0].replace("**", "x").replace("*", "x").replace("?", "x")


def example_matches(sig: Signature, example: str) -> bool:
    """Whether the signature, alone, compiled as the engine compiles it, fires on one example."""
    rules = compile_signatures([sig], paranoia=4)
    findings = inspect_fields(rules, [(example_path(sig), example)], EXAMPLE_LIMITS)
    if findings.error is not None:
        raise TimeoutError(findings.error)
    return bool(findings.hits)


def check_examples(sig: Signature) -> list[Problem]:
    try:
        return _check_examples(sig)
    except TimeoutError as exc:
        return [Problem(sig, "error", f"example too slow: {exc}")]


def _check_examples(sig: Signature) -> list[Problem]:
    problems = []
    for example in sig.match_examples:
        if not example_matches(sig, example):
            problems.append(Problem(sig, "error", f"match example not detected: {example!r}"))
    for example in sig.no_match_examples:
        if example_matches(sig, example):
            problems.append(Problem(sig, "error", f"no_match example detected: {example!r}"))
    return problems


def probe_inputs(sig: Signature) -> list[str]:
    """Long inputs that make backtracking regexes blow up: runs of one character, and each
    example repeated, each followed by a character that makes the match fail late."""
    inputs = [ch * PROBE_LENGTH + "\x01" for ch in PROBE_CHARACTERS]
    for example in sig.match_examples[:3]:
        if example:
            inputs.append((example * (PROBE_LENGTH // len(example) + 1))[:PROBE_LENGTH] + "\x01")
            inputs.append(example[: len(example) // 2] * (PROBE_LENGTH // max(1, len(example) // 2)))
    return inputs


def probe_backtracking(sig: Signature) -> list[Problem]:
    pattern = regex.compile(sig.pattern)
    slowest = 0.0
    for text in probe_inputs(sig):
        started = time.perf_counter()
        try:
            pattern.search(text, timeout=PROBE_TIMEOUT)
        except TimeoutError:
            return [Problem(sig, "error", f"catastrophic backtracking: over {PROBE_TIMEOUT}s on {text[:12]!r}...")]
        slowest = max(slowest, time.perf_counter() - started)
    if slowest > SLOW_PROBE:
        return [Problem(sig, "warning", f"slow on long input: {slowest * 1000:.0f} ms over {PROBE_LENGTH} chars")]
    return []


def check_prefilter(sig: Signature) -> list[Problem]:
    if sig.prefilter or derive_literals(sig.pattern) is not None:
        return []
    return [
        Problem(
            sig,
            "warning",
            "no literal of 3+ characters can be derived: the regex runs on every field; declare `prefilter:`",
        )
    ]


PREFILTER_SAMPLES = 300
"""Texts generated per signature to check its prefilter against."""


def check_prefilter_holds(sig: Signature) -> list[Problem]:
    """Texts the regex matches, as its transform chain leaves them, must each hold a literal of every
    prefilter group, declared or derived: where one does not, the prefilter hides that attack."""
    compiled = compile_signatures([sig], paranoia=4).signatures[0]
    if not compiled.literals:
        return []
    for text in sample_matches(sig.pattern, PREFILTER_SAMPLES, sig.id):
        subject = apply_chain(compiled.chain, text)
        if compiled.pattern.search(subject, timeout=PROBE_TIMEOUT) is None:
            continue  # the chain changed a text the pattern matched into one it does not
        folded = fold(subject)
        for group in compiled.literals:
            if not any(literal in folded for literal in group):
                shown = ", ".join(repr(literal) for literal in sorted(group))
                message = f"prefilter misses {subject!r}, a text the regex matches: it holds none of {shown}"
                return [Problem(sig, "error", message)]
    return []


SCREEN_SAMPLES = 100
"""Texts generated per signature to check its relaxed forms against (each also in swapped case)."""


def check_screen_holds(sig: Signature) -> list[Problem]:
    """Texts the regex matches (and each in swapped case, which `(?i)` matches too) must be matched
    by its relaxed forms, which the screen runs first: where one is not, the screen hides that
    attack. A pattern that cannot be relaxed is never ruled out by the screen (a warning)."""
    try:
        anywhere = re2.compile(relaxed(sig.pattern))
        within_lines = re2.compile(relaxed(sig.pattern, within_lines=True))
    except Unrelaxable as reason:
        return [Problem(sig, "warning", f"the screen cannot rule this signature out ({reason})")]
    except re2.error as reason:
        return [Problem(sig, "warning", f"the screen cannot rule this signature out (RE2: {reason})")]
    compiled = compile_signatures([sig], paranoia=4, screen=False).signatures[0]
    for text in sample_matches(sig.pattern, SCREEN_SAMPLES, sig.id):
        for subject in {apply_chain(compiled.chain, text), apply_chain(compiled.chain, text.swapcase())}:
            if compiled.pattern.search(subject, timeout=PROBE_TIMEOUT) is None:
                continue
            if anywhere.search(subject) is None or ("\n" not in subject and within_lines.search(subject) is None):
                return [Problem(sig, "error", f"the screen misses {subject!r}, a text the regex matches")]
    return []


def lint(sig: Signature) -> list[Problem]:
    """Every check on one signature (loading already validated its schema and regex)."""
    problems = check_examples(sig) + check_prefilter(sig) + check_prefilter_holds(sig)
    return problems + check_screen_holds(sig) + probe_backtracking(sig)
