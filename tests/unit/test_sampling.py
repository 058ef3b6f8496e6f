"""Texts generated from a pattern's syntax tree, and the lint check that holds a prefilter to them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import regex

from firewall.engine.checks import check_prefilter_holds, check_screen_holds
from firewall.engine.model import Signature
from firewall.engine.sampling import sample_matches

SigFactory = Callable[..., Signature]
NETCAT = r"\b(?:nc|netcat)\s+-e\s+/bin/sh"


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?:alpha|beta|gamma)\d{2}",
        r"\bunion\s+(?:all\s+)?select\b",
        r"[^\s<>]{3,8}@[a-z]+\.(?:com|org)",
        r"(?i)<script[\s/>]",
        r"(['\"])[a-z]{2}\1",
        r"<!entity\s(?<=<!doctype\s+[^\[>]{1,20}\[[^\]]{0,30})",
        r"%(?:25)?(?:c0|c1)%(?:25)?[89ab][0-9a-f]",
    ],
)
def test_every_generated_text_is_matched_and_distinct(pattern: str) -> None:
    texts = sample_matches(pattern, 40, "seed")
    assert len(texts) >= 10  # the walk reaches matches, a lookbehind's context included
    assert len(set(texts)) == len(texts)
    compiled = regex.compile(pattern)
    assert all(compiled.search(text) for text in texts)


def test_generation_is_reproducible_and_walks_every_branch() -> None:
    texts = sample_matches(r"(?:alpha|beta|gamma)-[a-z]{1,4}", 60, "one seed")
    assert texts == sample_matches(r"(?:alpha|beta|gamma)-[a-z]{1,4}", 60, "one seed")
    assert texts != sample_matches(r"(?:alpha|beta|gamma)-[a-z]{1,4}", 60, "another seed")
    assert {text.split("-")[0] for text in texts} == {"alpha", "beta", "gamma"}


def test_covering_walks_take_every_branch_of_nested_alternations() -> None:
    """72 texts in all (12 outer branches, each with 6 inner ones), and 72 asked for: random walks
    alone would need about 350 to meet every one (coupon collector), more than the 288 allowed."""
    inner = "(?:aa|bb|cc|dd|ee|ff)"
    pattern = "|".join(f"{outer}{inner}" for outer in "ghijklmnopqr")
    for seed in ("one", "two", "three"):
        assert len(sample_matches(pattern, 72, seed)) == 72


def test_a_class_is_filled_with_odd_characters_too() -> None:
    """Negated classes and `\\s` take controls, invisible and non-ASCII characters, where prefilters
    written with only a space or ASCII in mind go wrong."""
    texts = sample_matches(r"a[^b]c\sd", 300, "seed")
    middles = {text[1] for text in texts} | {text[3] for text in texts}
    assert any(not ch.isascii() for ch in middles)
    assert any(ch in "\t\n\x0b\x0c\r\x85\xa0\u2028" for ch in middles)


def test_syntax_the_parser_does_not_know_gives_no_text() -> None:
    assert sample_matches(r"(?:attack){e<=1}", 10, "seed") == []


def test_lint_reports_a_prefilter_that_misses_a_branch(make_sig: SigFactory) -> None:
    """The declared literal covers `netcat` but not `nc`: an attack the regex matches would never
    reach it."""
    sig = make_sig(pattern=NETCAT, prefilter=(("netcat",),), match_examples=("netcat -e /bin/sh",))
    problems = check_prefilter_holds(sig)
    assert len(problems) == 1 and problems[0].level == "error"
    assert "prefilter misses 'nc" in problems[0].message and "'netcat'" in problems[0].message


def test_lint_accepts_a_prefilter_every_branch_holds(make_sig: SigFactory) -> None:
    sig = make_sig(pattern=NETCAT, prefilter=(("nc", "netcat"),), match_examples=("nc -e /bin/sh",))
    assert check_prefilter_holds(sig) == []


def test_lint_checks_texts_as_the_transform_chain_leaves_them(make_sig: SigFactory) -> None:
    """With whitespace compressed, `x\t\tor` reaches the regex as `x or`: a literal with that one
    space always holds, one with a tab never does."""
    chain = ("compress_whitespace",)
    space = make_sig(pattern=r"x\s+or", transforms=chain, prefilter=(("x or",),), match_examples=("x or",))
    tab = make_sig(pattern=r"x\s+or", transforms=chain, prefilter=(("x\tor",),), match_examples=("x or",))
    assert check_prefilter_holds(space) == []
    assert [p.level for p in check_prefilter_holds(tab)] == ["error"]


def test_lint_reports_a_relaxed_form_that_misses_what_the_regex_matches(
    make_sig: SigFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A translation that drops a branch (as a wrong relaxation would) is caught on the sampled
    matches; the real one passes."""
    from firewall.engine import checks

    sig = make_sig(pattern=NETCAT)
    assert check_screen_holds(sig) == []
    monkeypatch.setattr(checks, "relaxed", lambda pattern, within_lines=False: "netcat")
    problems = check_screen_holds(sig)
    assert len(problems) == 1 and problems[0].level == "error"
    assert "the screen misses 'nc" in problems[0].message


def test_lint_warns_that_a_pattern_the_screen_cannot_read_is_never_ruled_out(make_sig: SigFactory) -> None:
    problems = check_screen_holds(make_sig(pattern=r"\p{Lu}{3}tack"))
    assert [problem.level for problem in problems] == ["warning"]
    assert "cannot rule this signature out" in problems[0].message
