"""A relaxed pattern (RE2 syntax) matches wherever its `regex` pattern matches, alone or joined."""

from __future__ import annotations

import random

import pytest
import re2
import regex

from firewall.engine.model import Signature
from firewall.engine.relaxed import Unrelaxable, relaxed
from firewall.engine.sampling import sample_matches


def _re2(pattern: str) -> re2._Regexp:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _cased_characters() -> str:
    """Every character with a case mapping, and each single-character mapping of one."""
    found: set[str] = set()
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        variants = {ch.lower(), ch.upper(), ch.casefold(), ch.title()}
        if variants != {ch}:
            found.add(ch)
            found.update(v for v in variants if len(v) == 1)
    return "".join(sorted(found))


def test_case_insensitive_letters_match_at_least_what_regex_folds_together() -> None:
    """RE2 and `regex` fold case alike but for Turkish i (`regex` joins I/ı and i/İ), which the
    translation adds. Checked for every cased character, as a literal and in a negated set."""
    hay = _cased_characters()
    assert len(hay) > 2500
    for ch in hay:
        literal = "(?i)" + regex.escape(ch)
        by_regex = set(regex.findall(literal, hay))
        by_re2 = set(_re2(relaxed(literal)).findall(hay))
        assert by_regex <= by_re2, (literal, sorted(by_regex - by_re2))
        negated = "(?i)[^" + regex.escape(ch) + "]"
        loose = _re2(relaxed(negated))
        for other in by_regex | by_re2:  # elsewhere both match: it is in neither's case set
            if regex.fullmatch(negated, other):
                assert loose.fullmatch(other), (negated, other)


def test_every_shipped_signature_is_relaxed_and_compiles_in_re2(bundled_signatures: tuple[Signature, ...]) -> None:
    for sig in bundled_signatures:
        _re2(relaxed(sig.pattern))


def _surroundings(rng: random.Random, text: str) -> list[str]:
    noise = ["", "x", " ", "\n", "A", "_", "'", "é", "1", "\x01"]
    return [text, rng.choice(noise) + text + rng.choice(noise), "calm\n" + text + "\nalso calm"]


def test_shipped_relaxed_patterns_match_wherever_their_pattern_does(bundled_signatures: tuple[Signature, ...]) -> None:
    """Over every example of every shipped signature and random matches built from its pattern,
    alone and amid other text."""
    rng = random.Random(7)
    examples = [text for s in bundled_signatures for text in (*s.match_examples, *s.no_match_examples)]
    checked = 0
    for sig in bundled_signatures:
        pattern = regex.compile(sig.pattern)
        loose, lines = _re2(relaxed(sig.pattern)), _re2(relaxed(sig.pattern, within_lines=True))
        texts = [*sig.match_examples, *sig.no_match_examples, *rng.sample(examples, 20)]
        texts += sample_matches(sig.pattern, 20, sig.id)
        for text in texts:
            for subject in _surroundings(rng, text):
                if pattern.search(subject, timeout=1.0):
                    checked += 1
                    assert loose.search(subject), (sig.id, subject)
            if "\n" not in text and pattern.search(text, timeout=1.0):
                assert lines.search("calm\n" + text + "\nalso calm"), (sig.id, text)
    assert checked > 3000


_POOL = ["a", "b", "A", "i", "I", "ı", "İ", "k", "K", "\u212a", "s", "ſ", "ß", "0", "٣", " ", "\n", "\t", "\xa0",
         "\x1c", "_", "-", "é", "'", "\u2028"]
_ATOMS = ["a", "b", "i", "k", "s", "ß", "0", "-", "'", ".", r"\w", r"\W", r"\d", r"\D", r"\s", r"\S", "[a-c]",
          "[^a]", r"[\w-]", r"[^\W\d]", r"[^\s']", r"[\d\s]", "[ıİ]", "[^i]", "[A-Z]", "[^a-z]", "é"]
_ASSERTIONS = ["^", "$", r"\b", r"\B", r"\A", r"\Z"]


def _random_pattern(rng: random.Random, depth: int = 0, groups: list[int] | None = None) -> str:
    """A random pattern of the constructs the translation relaxes, over a small alphabet."""
    groups = [] if groups is None else groups
    parts: list[str] = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if depth < 3 and roll < 0.25:
            inner = _random_pattern(rng, depth + 1, groups)
            kind = rng.choice(["(", "(?:", "(?i:", "(?-i:", "(?=", "(?!", "(?<=", "(?<!", "(?>"])
            if kind == "(":
                groups.append(len(groups) + 1)
            part = kind + inner + ")"
        elif depth < 3 and roll < 0.32:
            part = "(?:" + _random_pattern(rng, depth + 1, groups) + "|" + _random_pattern(rng, depth + 1, groups) + ")"
        elif roll < 0.38 and groups:
            part = "\\" + str(rng.choice(groups))
        elif roll < 0.45:
            part = rng.choice(_ASSERTIONS)
        else:
            part = rng.choice(_ATOMS)
        if rng.random() < 0.3 and not part.startswith(("(?=", "(?!", "(?<", "^", "$", "\\b", "\\B", "\\A", "\\Z")):
            part += rng.choice(["*", "+", "?", "{2}", "{1,3}", "{0,9}", "*?", "++", "?+", "{2,}"])
        parts.append(part)
    body = "".join(parts)
    return ("(?i)" + body) if depth == 0 and rng.random() < 0.3 else body


def test_random_patterns_relaxed_match_wherever_they_do() -> None:
    """Lookarounds, anchors, back-references, atomic groups, possessive and counted repeats, scoped
    case flags, categories and sets, over texts with Turkish i, long s, Kelvin sign, non-ASCII
    digits and spaces."""
    rng = random.Random(2026)
    matched = 0
    for _ in range(1500):
        source = _random_pattern(rng)
        try:
            pattern = regex.compile(source)
            loose, lines = _re2(relaxed(source)), _re2(relaxed(source, within_lines=True))
        except (regex.error, Unrelaxable):
            continue
        for _ in range(25):
            text = "".join(rng.choice(_POOL) for _ in range(rng.randint(0, 10)))
            if pattern.search(text, timeout=1.0):
                matched += 1
                assert loose.search(text), (source, text)
                assert loose.search("zz\n" + text + "\nzz"), (source, text)
                if "\n" not in text:
                    assert lines.search("zz\n" + text + "\nzz"), (source, text)
    assert matched > 5000


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"[;&|\n]{1,4}\s*ls\b", "ls -la"),  # a separator before a command
        (r"select\W+from", "select\nfrom"),
        (r"<script.{0,20}>", "<script\n>"),
        (r"x[^a]y", "x\ny"),
        (r"(?s)a.b", "a\nb"),
    ],
)
def test_within_lines_nothing_matches_a_newline(pattern: str, text: str) -> None:
    """Texts joined by newlines hold no newline of their own: a match over one is across two
    texts, which the form for joined lines leaves out and the general form does not."""
    assert _re2(relaxed(pattern)).search("calm\n" + text)
    assert not _re2(relaxed(pattern, within_lines=True)).search("calm\n" + text)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"([^a-z])\1", "QQ"),  # (?i) would take Q's lower case out of the copied negated set
        (r"([^a])\1", "AA"),
        ("([^k])\\1", "\u212a\u212a"),  # the Kelvin sign folds to k
        (r"(?P<q>[^a-z]+)x(?P=q)", "ABxAB"),
        (r"([^a-z])\1{3}", "QQQQ"),
        (r"(?i)((?-i:a))\1", "aA"),  # the reference takes the group's text in any case
        (r"(?i)select((?-i:[a-z]))\1", "selectaA"),
    ],
)
def test_back_references_match_what_their_group_took_in_any_case(pattern: str, text: str) -> None:
    assert regex.search(pattern, text)
    assert _re2(relaxed(pattern)).search(text)
    assert _re2(relaxed(pattern, within_lines=True)).search("x\n" + text + "\ny")


@pytest.mark.parametrize(
    "pattern",
    [
        "(?ai)[^k]",  # ASCII mode: regex folds only ASCII letters, RE2 would take the Kelvin sign out
        r"(?i)(?a:\W)",
        "(?x)union\xa0select",  # regex skips U+00A0 in verbose mode, the standard parser does not
        "(?x:union select)",
        "(ab)" + "".join("(" + f"\\{g}" * 24 + ")" for g in range(1, 6)),  # copies of copies: 60 MB
        "(" * 400 + "a" + ")" * 400,  # regex compiles it; the translation would recurse too deep
        r"\p{L}+",  # a Unicode property: the standard parser does not know it
        "(?V1)[[a-z]--[aeiou]]",
        "a{e<=1}",  # a fuzzy constraint
        "(?P<x>a)(?P=x)\ud800",  # a surrogate: no UTF-8 text holds one
    ],
)
def test_syntax_the_translation_does_not_know_is_refused(pattern: str) -> None:
    with pytest.raises(Unrelaxable):
        relaxed(pattern)


def test_large_and_nested_counts_stay_within_what_re2_accepts() -> None:
    source = r"(?:(?:(?:a{2,4}){3}){4}b{0,500}){2,1000}"
    loose = _re2(relaxed(source))
    text = "a" * 96 + "b" * 700
    assert regex.search(source, text) and loose.search(text)


def test_a_back_reference_to_a_group_inside_a_lookbehind_becomes_the_group() -> None:
    source = r"(?<=(a))b\1"
    assert regex.search(source, "aba")
    assert _re2(relaxed(source)).search("aba")
    assert not _re2(relaxed(source)).search("abb")
