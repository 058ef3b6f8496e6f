"""Fast patterns: the literals derived from a regex, and the soundness property the matcher relies on
(no text the regex matches lacks all of them)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
import regex

from firewall.engine.compiler import compile_signatures, requirements
from firewall.engine.literals import MIN_LITERAL_LENGTH, derive_literals, derive_requirements, fold
from firewall.engine.matcher import inspect_fields
from firewall.engine.model import Signature
from firewall.engine.transforms import apply_chain

# pattern -> (expected literals, texts the pattern matches)
TYPICAL = {
    r"\bunion\b\s+(?:all\s+)?select\b": ({"select"}, ["1 union select 2", "union all select", "union\tselect"]),
    r"(?:union|select)\s": ({"union", "select"}, ["union ", "select\n", "x select *"]),
    r"<SCRIPT": ({"<script"}, ["<SCRIPT>"]),
    r"[Ss][Ee][Ll][Ee][Cc][Tt]": ({"select"}, ["SeLeCt", "select"]),
    r"union select": ({"select"}, ["union select"]),  # literals never hold whitespace
    r"(?i)SELECT\b": ({"select"}, ["select", "Select 1"]),
    r"(?:foo|)bar": ({"bar"}, ["bar", "foobar"]),  # an empty branch requires nothing
    r"(?<![a-z_])union\b": ({"union"}, ["1 union"]),
    r"xy(?!z)w": ({"xyw"}, ["xyw"]),  # a zero-width assertion keeps its neighbours adjacent
    r"(?:\.\./)+": ({"../"}, ["../../etc"]),  # a group repeated at least once is required
    r"/etc/passwd\b": ({"/etc/passwd"}, ["cat /etc/passwd"]),
    r"(?:sleep|benchmark)\(\s*\d": ({"sleep", "benchmark"}, ["sleep(5)", "benchmark(1000,md5(1))"]),
    r"(?>onerror)\s*=": ({"onerror"}, ["onerror =x"]),
}


@pytest.mark.parametrize("pattern", list(TYPICAL))
def test_typical_patterns_get_the_expected_fast_pattern(pattern: str) -> None:
    expected, _ = TYPICAL[pattern]
    assert derive_literals(pattern) == frozenset(expected)


@pytest.mark.parametrize("pattern", list(TYPICAL))
def test_typical_fast_patterns_occur_in_what_the_pattern_matches(pattern: str) -> None:
    literals = derive_literals(pattern)
    assert literals is not None
    compiled = regex.compile(pattern)
    for text in TYPICAL[pattern][1]:
        assert compiled.search(text), text  # the example really matches
        assert any(literal in text.lower() for literal in literals), text


def test_optional_parts_are_never_required() -> None:
    literals = derive_literals(r"foo(?:barbaz)?qux")
    assert literals in ({"foo"}, {"qux"})
    assert derive_literals(r"(?:select)?\s*from\b") == {"from"}
    assert derive_literals(r"x(?:select){0,3}y") is None


def test_positive_lookarounds_add_what_they_need_and_negative_ones_nothing() -> None:
    """A lookbehind's or lookahead's text lies in the subject too, outside the match."""
    groups = set(derive_requirements(r"--(?<=\bunion\b[^;]{0,40}--)") or ())
    assert {frozenset({"--"}), frozenset({"union"})} <= groups
    assert frozenset({"/etc/passwd"}) in set(derive_requirements(r"(?=/etc/passwd)/etc/") or ())
    assert derive_requirements(r"(?<!select)--") == (frozenset({"--"}),)
    assert derive_requirements(r"(?!x(?<=select))--") == (frozenset({"--"}),)


def test_derived_groups_are_the_same_in_every_process() -> None:
    """Groups of equal strength are ordered by their literals, not by set order (which follows
    the per-process string hash): the strongest four kept, and the anchor among them, never vary."""
    code = (
        "from firewall.engine.literals import derive_requirements as d;"
        "print([sorted(g) for g in d(r'(?:ab|cd)\\s(?:ef|gh)\\s(?:ij|kl)\\s(?:mn|op)'"
        "r'\\s(?:qr|st)\\s(?:uv|wx)\\s(?:;;|::)')])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(outputs) == 1
    assert outputs.pop().startswith("[['::', ';;']")  # punctuation outranks letters


@pytest.mark.parametrize(
    "pattern",
    [
        r"ab",  # too short
        r"\d+",
        r"(?:cat|ls)\s",  # one branch too short: the requirement would be useless
        r"(?:evil|)\s",  # one branch empty
        r".*",
        r"[a-z]{5,}",
        r"\p{L}select",  # `regex` syntax the standard parser does not know
        r"(?V1)[[a-z]--[aeiou]]select",
    ],
)
def test_no_fast_pattern_when_none_is_safe_or_useful(pattern: str) -> None:
    assert derive_literals(pattern) is None


def test_derived_literals_are_lower_case_long_enough_and_without_whitespace() -> None:
    for pattern in [*TYPICAL, r"UNION\s+ALL\s+SELECT", r"Exec\s+Master\.\.XP_CMDSHELL", r"ON(?:LOAD|ERROR)\s*="]:
        for literal in derive_literals(pattern) or ():
            assert literal == literal.lower()
            assert len(literal) >= MIN_LITERAL_LENGTH
            assert not any(ch.isspace() for ch in literal)


# --- soundness on the shipped signatures ---------------------------------------------------------


def test_shipped_examples_contain_a_fast_pattern_literal(bundled_signatures: tuple[Signature, ...]) -> None:
    """For every example the regex matches (after the signature's transforms), the folded text holds
    a literal of every declared and derived group: otherwise the prefilter would hide a detection."""
    failures, checked = [], 0
    for sig in bundled_signatures:
        groups = requirements(sig)
        if groups is None:
            continue  # no fast pattern: the regex runs on every field
        compiled = regex.compile(sig.pattern)
        for example in (*sig.match_examples, *sig.no_match_examples):
            text = apply_chain(sig.transforms, example)
            if compiled.search(text) is None:
                continue
            checked += 1
            lowered = fold(text)
            for group in groups:
                if not any(literal in lowered for literal in group):
                    failures.append(f"{sig.file}:{sig.line} {sig.id}: none of {sorted(group)} in {lowered!r}")
    assert failures == []
    assert checked >= len(bundled_signatures)  # most signatures have a fast pattern and several examples


# --- the engine fires wherever the regex matches, whatever the pattern syntax --------------------------

UNSOUND = "the derived literal is absent from text the `regex` pattern matches, so the signature never fires"


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        pytest.param(r"\bunion\s+select\b", "1 union  select 2", id="plain"),
        pytest.param(r"(?i)\bunion\s+select\b", "1 UNION  SELECT 2", id="ignorecase"),
        pytest.param(r"[Uu][Nn][Ii][Oo][Nn]", "UNION", id="letter-classes"),
        pytest.param(
            r"\bor[[:space:]]1=1",
            "' or 1=1",
            id="posix-class",
        ),
        pytest.param(
            r"(?:select){e<=1}",
            "selext",
            id="fuzzy",
        ),
        pytest.param(
            r"(?i)select",
            "ſelect",  # LATIN SMALL LETTER LONG S folds to s, but 'ſ'.lower() == 'ſ'
            id="ignorecase-long-s",
        ),
        pytest.param(
            "ΟΔΟΣ",
            "ΟΔΟΣ",  # 'ΟΔΟΣ'.lower() ends with final sigma ς; the literal is lowered letter by letter (σ)
            id="final-sigma",
        ),
    ],
)
def test_engine_fires_wherever_the_regex_matches(make_sig: Callable[..., Signature], pattern: str, text: str) -> None:
    assert regex.search(pattern, text) is not None
    rules = compile_signatures([make_sig(pattern=pattern)])
    findings = inspect_fields(rules, [("value", text)])
    assert [hit.signature.signature.id for hit in findings.hits] == ["FW-UNIT-001"]


@pytest.mark.parametrize("pattern", ["(?x)union\xa0select", "(?x:union select)", "(?x)a{1, 3}b", "x(?x: a b )"])
def test_verbose_patterns_are_not_read_for_literals(pattern: str) -> None:
    """`regex` skips U+00A0 in verbose mode and reads `{1, 3}` as a count; the standard parser
    would derive `union\\xa0select` or `a{1, 3}b` as text the match must hold, and hide the attack."""
    assert derive_requirements(pattern) is None


def test_a_verbose_signature_still_fires(make_sig: Callable[..., Signature]) -> None:
    rules = compile_signatures([make_sig(pattern="(?x)union\xa0select")])
    assert rules.signatures[0].literals is None
    assert [hit.path for hit in inspect_fields(rules, [("a", "calm"), ("b", "unionselect")]).hits] == ["b"]
