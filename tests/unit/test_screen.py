"""The RE2 screen: it leaves out only signatures that cannot match, and says so when it cannot tell."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from firewall.engine import screen
from firewall.engine.compiler import compile_signatures
from firewall.engine.findings import Memo
from firewall.engine.matcher import field_candidates, inspect_fields, record_candidates
from firewall.engine.model import Signature
from firewall.engine.screen import PIECE, Allowance, Bound, Screen, _pieces

SigFactory = Callable[..., Signature]


def _hits(findings: object) -> set[tuple[str, str]]:
    return {(hit.signature.signature.id, hit.path) for hit in findings.hits}  # type: ignore[attr-defined]


def test_a_signature_whose_literals_occur_but_whose_pattern_cannot_match_is_left_out(make_sig: SigFactory) -> None:
    sig = make_sig(pattern=r"union\s+(?:all\s+)?select\b", prefilter=[["union"], ["select"]])
    screened = compile_signatures([sig])
    unscreened = compile_signatures([sig], screen=False)
    text = "the union did not select a leader. " * 8
    assert field_candidates(unscreened, "value", text) == [0]  # both literals are there
    assert field_candidates(screened, "value", text) == []
    assert field_candidates(screened, "value", text + "x union  select y") == [0]


def test_short_records_are_left_to_the_prefilter(make_sig: SigFactory) -> None:
    """Screening every decoded form of a short field or two costs more than the regexes it spares."""
    from firewall.engine.matcher import SCREENED_LENGTH

    sig = make_sig(pattern=r"union\s+(?:all\s+)?select\b", prefilter=[["union"], ["select"]])
    screened = compile_signatures([sig])
    short = "the union did not select a leader"
    assert len(short) < SCREENED_LENGTH
    assert field_candidates(screened, "value", short) == [0]
    assert inspect_fields(screened, [("value", short)]).hits == []  # the regex decides


def test_the_screen_keeps_every_hit_of_the_shipped_signatures(bundled_signatures: tuple[Signature, ...]) -> None:
    """Random records of every shipped signature's examples, alone and with decoder-laden text:
    the same hits and errors with the screen as without it."""
    with_screen = compile_signatures(bundled_signatures, paranoia=4)
    without = compile_signatures(bundled_signatures, paranoia=4, screen=False)
    examples = sorted({t for s in bundled_signatures for t in (*s.match_examples, *s.no_match_examples) if t})
    extras = ["O'Brien", "50%25 off", "&lt;b&gt;", "\\u0027", "ＳＥＬＥＣＴ", "%2e%2e%2f", "a+b", "\t\n", "é"]
    extras += ["\xa0", "\u3000or\u3000"]
    rng = random.Random(5)
    found = 0
    for _ in range(120):
        fields: list[tuple[str, str | bytes]] = [
            (f"f{i}", rng.choice(examples) + rng.choice(["", " ", *extras])) for i in range(rng.randint(1, 30))
        ]
        screened, plain = inspect_fields(with_screen, fields), inspect_fields(without, fields)
        assert _hits(screened) == _hits(plain), fields
        assert screened.error == plain.error
        found += len(screened.hits)
    assert found > 500


def test_text_re2_cannot_take_is_not_screened(make_sig: SigFactory) -> None:
    rules = compile_signatures([make_sig(pattern=r"\bor\s+1=1")])
    assert rules.screen is not None
    assert rules.screen.bound([("\ud800 or 1=1", {0})], None, Allowance()) is None  # a lone surrogate
    findings = inspect_fields(rules, [("value", "\ud800' or 1=1--")])
    assert [hit.signature.signature.id for hit in findings.hits] == ["FW-UNIT-001"]


class _GivesUp:
    """An RE2 set answering as RE2 does when its automaton runs out of memory: no pattern at all."""

    def Match(self, _text: bytes) -> None:
        return None


def test_when_re2_gives_up_every_signature_stays_in_play(make_sig: SigFactory) -> None:
    rules = compile_signatures([make_sig(pattern="attack")])
    assert rules.screen is not None
    rules.screen._sets[0].matcher = _GivesUp()
    assert rules.screen.bound([("an attack", {0})], None, Allowance()) is None
    assert [hit.path for hit in inspect_fields(rules, [("a", "calm"), ("b", "an attack")]).hits] == ["b"]


def test_a_set_re2_refuses_leaves_its_signatures_unscreened(
    make_sig: SigFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(screen, "MAX_MEMORY", 1 << 10)  # too little for any program
    rules = compile_signatures([make_sig(pattern="attack"), make_sig(id="FW-UNIT-002", pattern="other")])
    assert rules.screen is not None
    assert rules.screen.screened == frozenset() and rules.screen.unscreened == {0, 1}
    assert rules.screen.bound([("calm", {0, 1})], None, Allowance()) == Bound({0, 1}, None)
    assert [hit.path for hit in inspect_fields(rules, [("a", "calm"), ("b", "an attack")]).hits] == ["b"]


def test_a_pattern_that_cannot_be_relaxed_always_stays_in_play(make_sig: SigFactory) -> None:
    rules = compile_signatures([make_sig(pattern=r"\p{Lu}{3}tack"), make_sig(id="FW-UNIT-002", pattern="other")])
    assert rules.screen is not None and rules.screen.unscreened == {0}
    assert rules.screen.bound([("calm", {0, 1})], None, Allowance()) == Bound({0}, None)
    assert [h.path for h in inspect_fields(rules, [("a", "calm"), ("b", "ATTtack")]).hits] == ["b"]


def test_joined_text_is_screened_in_pieces_that_hold_each_text_whole() -> None:
    rng = random.Random(3)
    texts = ["x" * rng.choice([0, 1, 10, 300, PIECE - 1, PIECE]) for _ in range(60)]
    joined = "\n".join(texts)
    pieces = list(_pieces(joined, "\n"))
    assert all(piece is not None and len(piece) <= PIECE for piece in pieces)
    assert [text for piece in pieces if piece is not None for text in piece.split("\n")] == texts
    assert list(_pieces("short", None)) == ["short"]
    assert list(_pieces("y" * (PIECE + 1), None)) == [None]  # one long text: not screened
    assert list(_pieces("a\n" + "y" * (PIECE + 1), "\n"))[-1] is None


def test_screening_stops_once_the_allowance_is_spent(make_sig: SigFactory) -> None:
    rules = compile_signatures([make_sig(pattern="attack")])
    assert rules.screen is not None
    assert rules.screen.bound([("calm", {0})], None, Allowance()) == Bound(set(), None)
    assert rules.screen.bound([("calm", {0})], None, Allowance(-1.0)) is None
    memo = Memo()
    before = memo.screening.left
    record_candidates(rules, [("a", "calm"), ("b", "calm too " * 50)], memo)
    assert memo.screening.left < before  # a batch's records draw on one allowance


def test_screen_built_from_known_forms_skips_the_translation() -> None:
    known: dict[str, tuple[str, str] | None] = {"attack": ("attack", "attack"), r"\p{L}": None}
    built = Screen([(0, "attack", 0), (1, r"\p{L}", 0), (2, "other", 0)], known)
    assert built.translations == {"attack": ("attack", "attack"), r"\p{L}": None, "other": ("other", "other")}
    assert built.unscreened == {1} and built.screened == {0, 2}


def test_joined_texts_are_left_in_play_only_in_the_pieces_a_signature_matched_in(make_sig: SigFactory) -> None:
    """A flood whose texts are alike but for a few that decode into what a signature needs: the
    others get no candidate, and the few keep theirs."""
    rules = compile_signatures([make_sig(pattern=r"#\d")])
    assert rules.screen is not None
    texts = [f"calm {i:05d}" for i in range(3000)]
    texts[1234] = "a #1 comment"
    found = rules.screen.bound([("\n".join(texts), {0})], "\n", Allowance())
    assert found is not None and found.signatures == {0} and found.live is not None
    assert found.holds(1234) and not found.holds(0) and not found.holds(2999)
    assert sum(found.live) <= PIECE // len("calm 00000\n") + 1  # the texts of one piece, of 3,000
    fields: list[tuple[str, str | bytes]] = [(f"f{i}", text) for i, text in enumerate(texts)]
    together, _ = record_candidates(rules, fields)
    assert together == {1234: {0}}
    assert [hit.path for hit in inspect_fields(rules, fields).hits] == ["f1234"]


@pytest.mark.parametrize(
    ("form", "attack"),
    [
        ("$IFS%{}", "cat$IFS%2fetc%2fpasswd"),
        ("%%{}", "%%27%20or%201=1--"),
        ("..\\\\{}", "..\\..\\..\\windows\\win.ini"),
        ("%25{}", "%253Cscript%253Ealert(1)%253C/script%253E"),
        ("&#x{}", "&#x3c;script&#x3e;alert(1)&#x3c;/script&#x3e;"),
    ],
)
def test_a_flood_keeps_every_hit_of_its_few_texts_in_play(
    bundled_signatures: tuple[Signature, ...], form: str, attack: str
) -> None:
    """Floods whose texts mostly decode alike, and a few into what a signature needs (`$IFS%231`
    gives `#`, or an attack among them): only the pieces holding those few stay in play, and the
    hits are those without the screen."""
    with_screen = compile_signatures(bundled_signatures)
    without = compile_signatures(bundled_signatures, screen=False)
    fields: list[tuple[str, str | bytes]] = [(f"f{i}", form.format(i)) for i in range(2500)]
    fields[700] = fields[1800] = ("attack", attack)
    screened, plain = inspect_fields(with_screen, fields), inspect_fields(without, fields)
    assert _hits(screened) == _hits(plain)
    assert {path for _id, path in _hits(screened)} == {"attack"}
    assert screened.error == plain.error


def test_signatures_no_field_is_a_target_of_are_left_out_and_a_memo_keeps_to_its_fields(
    make_sig: SigFactory,
) -> None:
    """A signature on S3 keys is not looked for in SQS bodies: a flood of `..\\\\N` decodes to `../N`
    in every field. A field at its target, in the same record or after a batch that left it out,
    is still screened for it."""
    key_only = make_sig(pattern=r"\.\./", targets=["s3.key"], match_examples=["../x"], no_match_examples=["x"])
    rules = compile_signatures([key_only, make_sig(id="FW-UNIT-002", pattern="attack")])
    assert rules.untargeted(["sqs.body.a", "sqs.body.{}"]) == {0} and rules.untargeted(["s3.key", "x"]) == set()
    texts = [f"../{i} and some calm words to screen" for i in range(20)]
    body = [(f"sqs.body.a[{i}]", text) for i, text in enumerate(texts)]
    found, _ = record_candidates(rules, body)
    assert found == {}  # the screen named no signature a field there can be a hit of
    found, _ = record_candidates(rules, [*body, ("s3.key", "x")])
    assert all(found[i] == {0} for i in range(len(texts)))

    memo = Memo()
    assert inspect_fields(rules, body, memo=memo).hits == [] and memo.screening.leave_out == {0}
    assert memo.paths == {path for path, _ in body}
    assert memo.candidates[texts[3]] == (set(), frozenset())  # recalled by the batch's records
    assert _hits(inspect_fields(rules, [("s3.key", texts[3])], memo=memo)) == {("FW-UNIT-001", "s3.key")}
    assert memo.screening.leave_out == {0}


def test_the_targets_of_many_list_items_are_read_in_one_pass(make_sig: SigFactory) -> None:
    from firewall.engine.compiler import MANY_PATHS

    key_only = make_sig(pattern="a", targets=["s3.key"])
    names = make_sig(id="FW-UNIT-002", pattern="a", targets=["*.name"])
    odd = make_sig(id="FW-UNIT-003", pattern="a", targets=["odd\nkey"])
    rules = compile_signatures([key_only, names, odd])
    assert rules.index_blind_targets
    paths = [f"sqs.body.items[{i}].name" for i in range(MANY_PATHS * 2)]
    assert rules.untargeted(paths) == {0, 2}
    assert rules.untargeted([p.replace("name", "title") for p in paths]) == {0, 1, 2}
    assert rules.untargeted([*paths, "odd\nkey"]) == {0}  # a path with a newline: each is read alone
