"""Every example of every shipped signature is its own test case, named after the signature."""

from __future__ import annotations

import pytest

from firewall import DEFAULT_SIGNATURES
from firewall.engine.checks import check_prefilter_holds, example_matches, probe_backtracking
from firewall.engine.loader import load_directory
from firewall.engine.model import Signature

SIGNATURES = load_directory(DEFAULT_SIGNATURES)


def _cases(kind: str) -> list[object]:
    cases = []
    for sig in SIGNATURES:
        examples = sig.match_examples if kind == "match" else sig.no_match_examples
        for number, example in enumerate(examples, 1):
            cases.append(pytest.param(sig, example, id=f"{sig.id}-{kind}-{number}"))
    return cases


@pytest.mark.parametrize(("sig", "example"), _cases("match"))
def test_match_example_is_detected(sig: Signature, example: str) -> None:
    assert example_matches(sig, example), f"{sig.file}:{sig.line} {sig.id} misses {example!r}"


@pytest.mark.parametrize(("sig", "example"), _cases("no_match"))
def test_no_match_example_is_not_detected(sig: Signature, example: str) -> None:
    assert not example_matches(sig, example), f"{sig.file}:{sig.line} {sig.id} fires on {example!r}"


@pytest.mark.parametrize("sig", [pytest.param(s, id=s.id) for s in SIGNATURES])
def test_no_catastrophic_backtracking(sig: Signature) -> None:
    assert [p for p in probe_backtracking(sig) if p.level == "error"] == []


def test_every_signature_has_both_kinds_of_example() -> None:
    for sig in SIGNATURES:
        assert sig.match_examples and sig.no_match_examples, sig.id


def test_ids_are_unique_and_prefixed_by_family() -> None:
    ids = [s.id for s in SIGNATURES]
    assert len(ids) == len(set(ids))
    for sig in SIGNATURES:
        assert sig.id.startswith("FW-"), sig.id


@pytest.mark.parametrize("sig", [pytest.param(s, id=s.id) for s in SIGNATURES])
def test_prefilter_holds_in_texts_the_regex_matches(sig: Signature) -> None:
    """Generated texts the regex matches each hold a literal of every declared and derived group."""
    assert check_prefilter_holds(sig) == []
