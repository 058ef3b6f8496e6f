"""The regex stage: which patterns may search fields joined by newlines, and that doing so finds
exactly the fields a search of each field alone finds."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import regex

from firewall.engine.boundaries import joinable, joined_form, without_negative_lookarounds
from firewall.engine.compiler import compile_signatures
from firewall.engine.findings import MAX_PATHS_PER_SIGNATURE, Budget, Findings, Limits, Memo
from firewall.engine.matcher import inspect_fields
from firewall.engine.model import Signature
from firewall.engine.search import RecordSearch
from firewall.engine.transforms import apply_chain

SigFactory = Callable[..., Signature]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"union\s+select", True),
        (r"^admin'--", True),  # `^` and `$` hold at each field's edges once MULTILINE
        (r"passwd$", True),
        (r"x(?!\w)", True),  # a word character is never a newline
        (r"(?<![\w$])alert\(", True),
        (r"(?>ab|a)c", True),
        (r"a(?!.)", True),  # without DOTALL, `.` never takes a newline
        (r"\Aadmin", False),
        (r"admin\Z", False),
        (r"x(?!\s)", False),  # a newline is whitespace: true at a field's end, false before a separator
        (r"x(?![^a-z])", False),
        (r"(?s)x(?!.)", False),
        (r"a\s*+b", True),  # a possessive run of single characters, then one more character: alone, a
        (r"a[^;]*+;", True),  # run that reaches the text's end leaves nothing for it (never a match)
        (r"\{[^}]{0,9}+(?:\[[^\]]*+\]|\|)", True),
        (r"a\s*+", False),  # nothing after the run: alone it matches at the end, joined it takes the newline
        (r"a\s*+(?:b)?", False),
        (r"a(?:[^;]*+)*;", False),  # after one round, another one that may take nothing
        (r"a(?=[^;]*+)b", False),
        (r"(?>a\s*+b)", False),  # inside an atomic group: kept from newlines as before
        (r"a(?:\s\s|x)*+b", False),  # a run of a group, not of one character
        (r"(?>a\s|a)b", False),
        (r"x(?!$)", False),
        (r"(a)\1(?!\1)", False),  # a back-reference could be anything
        (r"(?=(\D*))\1$", False),  # a capture fixed in a lookahead takes in the separator
        (r"\p{L}+(?=x)", False),  # syntax the standard parser does not know: unsure, not joinable
    ],
)
def test_which_patterns_may_search_joined_fields(pattern: str, expected: bool) -> None:
    assert joinable(pattern) is expected


def _search_alone(signature: Signature, text: str) -> bool:
    return regex.search(signature.pattern, apply_chain(signature.transforms, text)) is not None


def _resolved(sig: Signature, texts: list[str]) -> set[int]:
    """The fields the regex stage reports for `sig`, every field a candidate."""
    rules = compile_signatures([sig], paranoia=4)
    items = [(f"f{i}", text) for i, text in enumerate(texts)]
    findings = Findings()
    search = RecordSearch(rules, items, dict.fromkeys(range(len(items))), Limits(), Budget(5.0), findings, Memo())
    search.run({0: list(range(len(items)))})
    return {int(hit.path[1:]) for hit in findings.hits}


def test_joined_search_reports_the_fields_a_search_of_each_finds(bundled_signatures: tuple[Signature, ...]) -> None:
    """Every shipped signature, over its own examples mixed with the others' in random order (some
    with newlines, some empty): the fields reported are the first fields, in record order, whose
    own search matches."""
    rng = random.Random(17)
    pool = sorted({text for s in bundled_signatures for text in (*s.match_examples, *s.no_match_examples)})
    pool += ["", "\n", "a\nb", "x\n", "\nselect"]
    joined_signatures = 0
    for sig in bundled_signatures:
        texts = [*sig.match_examples, *sig.no_match_examples, *rng.sample(pool, 12)]
        rng.shuffle(texts)
        alone = [i for i, text in enumerate(texts) if _search_alone(sig, text)]
        assert _resolved(sig, texts) == set(alone[:MAX_PATHS_PER_SIGNATURE]), sig.id
        joined_signatures += joinable(sig.pattern)
    assert joined_signatures > len(bundled_signatures) * 0.8


@pytest.mark.parametrize(
    ("pattern", "texts", "expected"),
    [
        ("^ab", ["xab", "ab", "c\nab"], {1}),  # `^` only at a field's start
        ("ab$", ["abx", "ab", "ab\nc"], {1}),
        ("b\\s+c", ["ab", "c", "b  c"], {2}),  # a match spanning two fields is not one
        ("(?<!a)b", ["a", "b", "ab"], {1}),
        (r"(?=(\D*))\1$", ["ab", "1ab"], {0, 1}),
    ],
)
def test_edges_and_spans_behave_as_in_a_field_alone(
    make_sig: SigFactory, pattern: str, texts: list[str], expected: set[int]
) -> None:
    assert _resolved(make_sig(pattern=pattern, prefilter=()), texts) == expected


class _TimesOut:
    def search(self, *_args: object, **_kwargs: object) -> None:
        raise TimeoutError


def test_a_joined_search_that_times_out_is_retried_field_by_field(make_sig: SigFactory) -> None:
    """A joined search that runs out of time is not a verdict: each field is searched alone, where
    a timeout would be one."""
    rules = compile_signatures([make_sig(pattern="attack")])
    rules.signatures[0]._joined_searcher = _TimesOut()  # type: ignore[assignment]
    fields: list[tuple[str, str | bytes]] = [("a", "calm"), ("b", "an attack"), ("c", "calm too")]
    findings = inspect_fields(rules, fields)
    assert findings.error is None
    assert [hit.path for hit in findings.hits] == ["b"]


def test_a_timeout_on_a_field_alone_is_the_records_error(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="(x+x+)+y(?!z)", prefilter=[["xx"], ["y"]])
    rules = compile_signatures([sig])
    findings = inspect_fields(rules, [("a", "calm"), ("b", "x" * 5000 + "yz")], Limits(regex_timeout=0.01))
    assert findings.error is not None and "FW-UNIT-001" in findings.error and "at b" in findings.error


def test_outcomes_are_recalled_across_records_sharing_a_memo(make_sig: SigFactory) -> None:
    rules = compile_signatures([make_sig(pattern="attack")])
    memo = Memo()
    first = inspect_fields(rules, [("a", "an attack"), ("b", "calm")], memo=memo)
    assert memo.outcomes[(0, "an attack")] is not None
    rules.signatures[0]._searcher = _TimesOut()  # type: ignore[assignment]
    rules.signatures[0]._joined_searcher = _TimesOut()  # type: ignore[assignment]
    second = inspect_fields(rules, [("c", "an attack")], memo=memo)  # recalled: no search runs
    assert [hit.path for hit in first.hits] == ["a"]
    assert [hit.path for hit in second.hits] == ["c"]
    assert second.error is None and second.hits[0].excerpt == first.hits[0].excerpt


@pytest.mark.parametrize("signature_id", ["FW-LFI-001", "FW-LFI-014", "FW-RCE-001", "FW-SQLI-002", "FW-XSS-001"])
def test_signatures_with_a_negative_lookaround_across_lines_search_fields_joined(
    bundled_signatures: tuple[Signature, ...], signature_id: str
) -> None:
    """Every text of a flood of `..\\\\0042` is a traversal candidate: searched field by field, 19,000
    texts cost two searches each; joined, a few. Their exceptions (a module specifier, a separator
    before the separator) may span a line break, so the joined search drops them and the pattern
    confirms each hit on its field: an exception is never borrowed from the field before."""
    (sig,) = [s for s in bundled_signatures if s.id == signature_id]
    assert not joinable(sig.pattern)
    assert joined_form(sig.pattern) is not None
    if signature_id.startswith("FW-LFI"):
        assert _resolved(sig, ["import x from", "'../../../../etc/passwd'", "require(\n '../../x'"]) == {1}


@pytest.mark.parametrize(
    ("pattern", "relaxed"),
    [
        (r"a(?!\s*b)c", "ac"),
        (r"(?<![;|\n])[;|\n]x", r"[;|\n]x"),
        (r"[(?!]x(?!y(z))w", "[(?!]xw"),  # a set and an escape open nothing
        (r"\(?!x", r"\(?!x"),
        (r"[]](?<!a\)\s)b", "[]]b"),
    ],
)
def test_negative_lookarounds_are_cut_from_the_pattern_text(pattern: str, relaxed: str) -> None:
    assert without_negative_lookarounds(pattern) == relaxed


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?!\s)(?>x(?!y)|xy)z",  # in an atomic group the lookaround turned the engine to the next branch
        r"(?!\s)(?:x(?!y)|xy)++z",
        r"(?!\s)a(?!b)*+a",
        r"(?<!\s)x(?<!y){3}z",  # cut, its quantifier would take the atom before
        r"(?!\s)x(?!b){2}c",
        r"(?!\s)a{(?!x)2}",  # a literal brace would become a quantifier
        r"(?<!\s)((?!x)?x)a b",  # the cut would make the flag (?x)
        "(?x)(?!\\s) a # (?!\n b # )\n c",  # verbose comments are not read
        r"(?!\s)q[a[:alpha:](?!)]",  # a POSIX class: `regex` reads another set
    ],
)
def test_no_joined_form_where_cutting_could_lose_a_match(pattern: str) -> None:
    assert joined_form(pattern) is None


def test_a_pattern_is_searched_joined_without_its_lookarounds_only_where_that_makes_it_joinable() -> None:
    assert joined_form(r"union\s+select") == r"union\s+select"
    assert joined_form(r"x(?!\s)y") == "xy"
    assert joined_form(r"\Ax(?!\s)") is None  # still anchored to the string
    assert joined_form(r"a[^;]*+(?!\s)") is None


@pytest.mark.parametrize(
    "pattern",
    [r"a[^;]{0,3}+;", r"a\s*+b", r"\{[^}]{0,4}+(?:\[[^\]]{0,2}+\]|\|)[^}]*+\}", r"(?:x|a[^b]*+b)c?", r"a[^b]++(?=b)b"],
)
def test_possessive_runs_then_more_find_in_joined_fields_what_each_finds(make_sig: SigFactory, pattern: str) -> None:
    """The possessive-run exception of `joinable`, on random fields over the characters these patterns
    turn on (newlines and empty fields among them)."""
    assert joinable(pattern)
    _check_random_fields(make_sig(pattern=pattern, prefilter=()), "ab;{}[]| \n")


@pytest.mark.parametrize(
    "pattern",
    [r"(?<!b\s*)'a", r"(?<![;\n])[;\n]ab\b", r"a(?!\s*b)", r"(?<!a)(?<!b\s)\[a(?!\s*;)", r"(?:^|\s)(?<!a)b(?!\s)"],
)
def test_patterns_searched_without_their_lookarounds_find_in_joined_fields_what_each_finds(
    make_sig: SigFactory, pattern: str
) -> None:
    """The joined search drops negative lookarounds that could see across a field's edge: each of
    its hits is confirmed on its field, so the fields reported are those a search of each finds."""
    assert not joinable(pattern) and joined_form(pattern) is not None
    _check_random_fields(make_sig(pattern=pattern, prefilter=()), "ab;'[ \n")


def _check_random_fields(sig: Signature, alphabet: str, rounds: int = 300) -> None:
    """Random records of 2-6 fields over `alphabet` (empty fields among them): the fields the regex
    stage reports are the first ones, in order, whose own search matches."""
    rng = random.Random(sig.pattern)
    for _ in range(rounds):
        texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(rng.randint(2, 6))]
        alone = [i for i, text in enumerate(texts) if regex.search(sig.pattern, text)]
        assert _resolved(sig, texts) == set(alone[:MAX_PATHS_PER_SIGNATURE]), texts
