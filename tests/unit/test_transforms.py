"""Transforms on real obfuscations, bounded decoding rounds, and the trigger soundness property
that lets the matcher skip decoding for plain values."""

from __future__ import annotations

import base64
import random
import string
import time

import pytest

from firewall.engine.decoded import SHAPED_LENGTH, acting_decoders, acting_decoders_of
from firewall.engine.transforms import (
    MAX_BASE64_ATTEMPTS,
    MAX_BASE64_RUNS,
    MAX_ROUNDS,
    QUIET_GIVE_UP,
    TRANSFORMS,
    apply_chain,
    base64_decode,
    cmdline_normalize,
    compress_whitespace,
    css_decode,
    html_entity_decode,
    js_decode,
    path_normalize,
    remove_nulls,
    remove_sql_comments,
    told,
    triggered,
    unicode_nfkc,
    url_decode,
)

# --- each transform on real obfuscations --------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "plain"),
    [
        ("%252e%252e%252f", "../"),  # double encoding
        ("%25252e", "."),  # triple encoding
        ("%%32%65", "."),  # encoded hex digits: "%" + "2e" decodes to "%2e", then "."
        ("%u0027%u003C", "'<"),  # IIS %uXXXX
        ("%c0%ae%c0%ae%c0%af", "../"),  # overlong UTF-8 for . and /
        ("%C1%9C", "\\"),  # overlong backslash, upper-case hex
        ("1+OR+1=1", "1 OR 1=1"),  # + is a space in query strings
        ("%3Cscript%3E", "<script>"),
        ("%e2%80%a8", "\u2028"),  # a multi-byte UTF-8 run is one character
        ("%ff", "\xff"),  # invalid UTF-8 keeps the byte (Latin-1), never drops it
        ("100%", "100%"),
        ("%zz%2", "%zz%2"),  # not an escape: left alone
    ],
)
def test_url_decode(encoded: str, plain: str) -> None:
    assert url_decode(encoded) == plain


@pytest.mark.parametrize(
    ("encoded", "plain"),
    [
        ("&#x3c;script&#x3e;", "<script>"),
        ("&#X3C;", "<"),
        ("&#60;", "<"),
        ("&#60", "<"),  # numeric reference without ;
        ("&lt", "<"),  # named reference without ;
        ("&lt;img src=x&gt;", "<img src=x>"),
        ("&amp;lt;", "<"),  # double encoding
        ("&amp;amp;#x3c;", "<"),
        ("&quot;&apos;", "\"'"),
        ("AT&T", "AT&T"),
    ],
)
def test_html_entity_decode(encoded: str, plain: str) -> None:
    assert html_entity_decode(encoded) == plain


@pytest.mark.parametrize(
    ("encoded", "plain"),
    [
        ("\\x3cscript\\x3e", "<script>"),
        ("\\u003cscript\\u003e", "<script>"),
        ("\\u{3c}", "<"),
        ("\\u{1F600}", "\U0001f600"),
        ("\\74\\076", "<>"),  # octal
        ("\\'\\\"", "'\""),  # any escaped character is itself
        ("a\\nb", "a\nb"),
        ("\\u{110000}", "\ufffd"),  # beyond Unicode: replacement, no crash
        ("\\ud800", "\ufffd"),  # lone surrogate: replacement, no crash
        ("plain", "plain"),
    ],
)
def test_js_decode(encoded: str, plain: str) -> None:
    assert js_decode(encoded) == plain


@pytest.mark.parametrize(
    ("encoded", "plain"),
    [
        ("\\3c script", "<script"),  # one space after a hex escape is part of the escape
        ("\\3cscript", "<script"),
        ("\\00003cscript", "<script"),  # six hex digits at most
        ("\\6A avascript:", "javascript:"),
        ("java\\script", "javascript"),  # \s is not hex: the character itself
        ("expre\\ssion(", "expression("),
    ],
)
def test_css_decode(encoded: str, plain: str) -> None:
    assert css_decode(encoded) == plain


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("ＳＥＬＥＣＴ", "SELECT"),  # full-width letters
        ("＜ｓｃｒｉｐｔ＞", "<script>"),
        ("\ufb01le", "file"),  # ligature
        ("e\u0301", "é"),  # composed
    ],
)
def test_unicode_nfkc(text: str, plain: str) -> None:
    assert unicode_nfkc(text) == plain


def test_compress_whitespace_turns_every_run_into_one_space() -> None:
    assert compress_whitespace("union \t\n\r\x0b\x0c  select") == "union select"
    assert compress_whitespace("union\u00a0select\u3000from") == "union select from"
    assert compress_whitespace("a b c") == "a b c"


def test_remove_nulls() -> None:
    assert remove_nulls("sel\x00ect\x00\x00") == "select"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("UNION/**/SELECT", "UNION SELECT"),
        ("UNION/*comment*/ALL/**/SELECT", "UNION ALL SELECT"),
        ("/*!50000UNION*/ /*!SELECT*/ 1", "UNION SELECT 1"),  # MySQL executable comments keep their body
        ("1 and/* unterminated", "1 and"),
    ],
)
def test_remove_sql_comments(text: str, words: str) -> None:
    out = remove_sql_comments(text)
    assert "/*" not in out
    assert " ".join(out.split()) == words


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("c'a't /e\"t\"c/pa\\sswd", "cat /etc/passwd"),
        ("cat${IFS}/etc/passwd", "cat /etc/passwd"),
        ("cat$IFS/etc/passwd", "cat /etc/passwd"),
        ("cat$IFS$9/etc/passwd", "cat /etc/passwd"),
        ("cat${IFS%??}/etc/passwd", "cat /etc/passwd"),
        ("{cat,/etc/passwd}", "cat /etc/passwd"),
        ("w^h^o^a^m^i", "whoami"),
        ("ca$@t /etc/passwd", "cat /etc/passwd"),
        ("`id`", "id"),
        # bash expansions that yield nothing inside a word, or one character
        ("c$u'at' /e$u'tc'/pa$u'sswd'", "cat /etc/passwd"),
        ("w${u}get x", "wget x"),
        ("cu$()rl x|ba$( )sh", "curl x|bash"),
        ("$'\\x77get' x; $'\\143\\141t'", "wget x; cat"),
        ("$'\\u0077'get x; $'\\U00000063'at; $'\\cJ'", "wget x; cat; \n"),
        ("$'\\U110000\\ud800'x", "U110000ud800x"),  # no such character: written out, less its backslash
        ("$'\\c?\\c\\\\141'", "\x7f\x1c141"),  # DEL; a control-backslash takes both backslashes
        ("${PATH:0:1}bin${HOME:0:1}sh", "/bin/sh"),
        ("wg\\\net x; c\\\r\nat", "wget x; cat"),  # a backslash before a line break continues the line
        ("US$100 costs $5, ${name} too", "US$100 costs $5, ${name} too"),  # nothing inside a word
    ],
)
def test_cmdline_normalize(text: str, plain: str) -> None:
    assert cmdline_normalize(text) == plain


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("..\\..//./etc/passwd", "../../etc/passwd"),
        ("a//b///c", "a/b/c"),
        ("a/./b/././c", "a/b/c"),
        ("C:\\Windows\\win.ini", "C:/Windows/win.ini"),
        ("a/../b", "a/../b"),  # `..` is evidence: kept
    ],
)
def test_path_normalize(text: str, plain: str) -> None:
    assert path_normalize(text) == plain


def test_base64_runs_are_decoded_and_appended() -> None:
    hidden = base64.b64encode(b"cat /etc/passwd").decode()
    text = f"payload={hidden}&x=1"
    out = base64_decode(text)
    assert out.startswith(text)  # the original is still inspected
    assert out.endswith("\ncat /etc/passwd")


def test_base64_unpadded_runs_are_decoded() -> None:
    secret = b"<script>alert(document.cookie)</script>;"
    hidden = base64.b64encode(secret).decode().rstrip("=")
    assert len(hidden) % 4  # the example really lacks its padding
    assert base64_decode(hidden).split("\n", 1)[1] == secret.decode()


def test_slugs_and_short_runs_are_not_base64() -> None:
    """Identifiers (dashed slugs, SKUs, UUIDs, snake_case names, 16-character codes) must not send
    every field through every decoder: URL-safe runs with letters of one case only, and runs under
    20 characters, are left alone."""
    for text in (
        "mens-running-shoes-blue-2024",
        "SKU-ABCDEFGH12345678",
        "ab12CD34ef56GH78",
        "123e4567-e89b-12d3-a456-426614174000",
        "customer_shipping_address_line_2",
    ):
        assert base64_decode(text) == text
        assert not triggered(text)


def test_url_safe_base64_runs_are_decoded() -> None:
    """RFC 4648's URL-safe alphabet (`-` and `_`), unpadded as JWTs and URL tokens carry it. Here the
    `-` falls where a standard run would start, misaligned: only the URL-safe reading finds it."""
    secret = "c… ../../../../etc/passwd"
    hidden = base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")
    assert hidden.startswith("Y-")
    assert "base64_decode" in triggered(f"token={hidden}")
    assert base64_decode(f"token={hidden}").endswith("\n" + secret)
    mixed = base64.b64encode(b"??>cat /etc/passwd; id").decode().replace("Y", "_", 1)  # both alphabets
    assert "+" in mixed and "_" in mixed
    assert "cat /etc/passwd; id" not in base64_decode(mixed)


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(bytes(range(0, 256, 3))).decode(),  # binary, not text
        "abcdefghijklmnopqrstuvwxyz",  # a long word that decodes to garbage
        base64.b64encode(b"cat a").decode(),  # a run shorter than 16 characters
    ],
)
def test_base64_leaves_runs_that_are_not_hidden_text(text: str) -> None:
    assert base64_decode(text) == text


def test_base64_decodes_a_bounded_number_of_runs() -> None:
    run = base64.b64encode(b"hidden text here").decode()
    out = base64_decode(" ".join([run] * (MAX_BASE64_RUNS + 10)))
    assert out.count("\nhidden text here") == MAX_BASE64_RUNS
    binary = base64.b64encode(bytes(range(200, 218))).decode()  # valid base64 of bytes that are not text
    noise = " ".join([binary] * MAX_BASE64_ATTEMPTS)
    assert base64_decode(noise + " " + run) == noise + " " + run  # attempts, not only successes, are capped


def test_apply_chain_applies_in_the_listed_order() -> None:
    assert apply_chain(("url_decode", "html_entity_decode"), "%26lt;") == "<"
    assert apply_chain(("html_entity_decode", "url_decode"), "%26lt;") == "&lt;"
    assert apply_chain(("unicode_nfkc", "lowercase"), "ＵＮＩＯＮ") == "union"
    assert apply_chain((), "As Is") == "As Is"


def test_registry_has_the_transforms_the_design_names() -> None:
    for name in ("url_decode", "html_entity_decode", "lowercase", "compress_whitespace"):
        assert TRANSFORMS[name].name == name
    assert TRANSFORMS["lowercase"].trigger is None
    assert all(t.trigger is not None for name, t in TRANSFORMS.items() if name != "lowercase")


# --- bounded rounds -------------------------------------------------------------------------------


def _url_encode_levels(levels: int) -> str:
    """ "." percent-encoded `levels` times: %2e, %252e, %25252e..."""
    return "%" + "25" * (levels - 1) + "2e"


def test_url_decode_undoes_up_to_max_rounds_of_encoding() -> None:
    assert url_decode(_url_encode_levels(MAX_ROUNDS)) == "."


def test_url_decode_stops_after_max_rounds() -> None:
    # One level more than the bound: exactly one level is left, the loop does not run on.
    assert url_decode(_url_encode_levels(MAX_ROUNDS + 1)) == "%2e"
    assert url_decode(_url_encode_levels(MAX_ROUNDS + 3)) == _url_encode_levels(3)


def test_html_entity_decode_stops_after_max_rounds() -> None:
    text = "&" + "amp;" * (MAX_ROUNDS + 2) + "lt;"
    assert html_entity_decode(text) == "&" + "amp;" * 2 + "lt;"


def test_js_decode_stops_after_max_rounds() -> None:
    # Each round halves a run of backslashes (`\\\\` is one escaped `\\`); the `\\x3c` left at the end
    # needs one more round. 2**(MAX_ROUNDS - 1) backslashes fit in the bound, 2**MAX_ROUNDS do not.
    assert js_decode("\\" * 2 ** (MAX_ROUNDS - 1) + "x3c") == "<"
    assert js_decode("\\" * 2**MAX_ROUNDS + "x3c") == "\\x3c"


def test_decoders_stay_fast_on_deeply_nested_encodings() -> None:
    nested = _url_encode_levels(200_000)
    started = time.perf_counter()
    url_decode(nested)
    html_entity_decode("&" + "amp;" * 200_000 + "lt;")
    js_decode("\\" * 200_000)
    assert time.perf_counter() - started < 2.0


# --- trigger soundness property -------------------------------------------------------------------

WHITESPACE = [" ", " ", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u00a0", "\u2028", "\u3000"]
NON_ASCII = ["é", "ß", "İ", "ſ", "Ｓ", "＜", "ﬁ", "\u200b", "\ufeff", "\u0301", "😀", "\U000e0041", "\udc80", "Ω", "ǅ"]
# Near misses: pieces of encodings with the character that makes them one taken away.
NEAR_MISSES = [
    "u0027",
    "x3c",
    "c0ae",
    "#x3c;",
    "lt;",
    "amp;",
    "3c ",
    "IFS",
    "{IFS}",
    "a,b",
    "cat,",
    "}",
    "/.",
    "./",
    ". /",
    "/ /",
    "*",
    "*/",
    "!50000",
    "..",
    "...",
    "=",
    "==",
    "ABCDEFGHIJKLMNO",
    "aaaaaaaaaaaaaaa",
    "-_-_-_-_-_-_-_-",
    "0123456789abcde",
    "Y2F0IC9ldGMvcGF",
    "/etc/passwd",
    "SELECT",
    "union select",
    "?",
    "#",
    "@",
    "~",
    "(",
    ")",
]
# Pieces that make some transform act.
TRIGGERS = [
    "%",
    "%2",
    "%25",
    "%2e",
    "%u00",
    "%c0%ae",
    "+",
    "&",
    "&#",
    "&lt",
    "&amp;",
    "\\",
    "\\x",
    "\\u{",
    "\\3c ",
    "/*",
    "/*!",
    "${IFS}",
    "$",
    "$@",
    "{a,b}",
    "'",
    '"',
    "^",
    "`",
    "//",
    "/./",
    "\x00",
    "\t",
    "  ",
    "Y2F0IC9ldGMvcGFzc3dk",
    "QUJDREVGR0hJSktMTU5PUA==",
    "&LT;",
    "&Ouml",
    "&AMP;lt;",
    base64.urlsafe_b64encode(b"?>?>?>?>?>?>?>?>?>?>?>?>").decode(),  # a `_` every 4 characters
]
SAFE_PUNCTUATION = [ch for ch in string.punctuation if not triggered(ch)]


def _random_string(rng: random.Random, pieces: list[list[str]], max_pieces: int = 24) -> str:
    out = []
    for _ in range(rng.randint(0, max_pieces)):
        kind = rng.choice(pieces)
        out.append(rng.choice(kind))
    return "".join(out)


def _corpus(seed: int = 20240611) -> list[str]:
    """Random and adversarial strings; many of them trigger nothing (so the property is not vacuous)."""
    rng = random.Random(seed)
    letters = list(string.ascii_letters + string.digits)
    everything = [letters, list(string.punctuation), WHITESPACE, NON_ASCII, NEAR_MISSES, TRIGGERS]
    plain = [letters, letters, SAFE_PUNCTUATION, [" "], NEAR_MISSES]
    strings = [_random_string(rng, everything) for _ in range(2500)]
    strings += [_random_string(rng, plain) for _ in range(2500)]
    strings += ["".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40))) for _ in range(1000)]
    strings += ["".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 20))) for _ in range(500)]
    strings += ["", " ", "a", "A" * 15, "A" * 16, "/", "a/b", "a. b", "x" * 200, *NEAR_MISSES, *TRIGGERS]
    return strings


CORPUS = _corpus()


def test_corpus_exercises_both_sides_of_the_trigger() -> None:
    quiet = [s for s in CORPUS if not triggered(s)]
    assert len(quiet) >= 1500, len(quiet)
    assert len(CORPUS) - len(quiet) >= 1500


def test_text_without_any_trigger_is_left_unchanged_by_every_transform_but_lowercase() -> None:
    for text in CORPUS:
        if triggered(text):
            continue
        for name, transform in TRANSFORMS.items():
            if name == "lowercase":
                continue
            assert transform.function(text) == text, (name, text)


@pytest.mark.parametrize("name", [n for n in TRANSFORMS if n != "lowercase"])
def test_each_transform_only_changes_text_its_own_trigger_matches(name: str) -> None:
    transform = TRANSFORMS[name]
    assert transform.trigger is not None
    quiet = 0
    for text in CORPUS:
        if transform.trigger.search(text) is None:
            quiet += 1
            assert transform.function(text) == text, text
    assert quiet >= 500  # the transform's own trigger leaves plenty of strings to check


def test_chains_on_text_without_triggers_yield_the_text_up_to_case() -> None:
    # What the matcher's fast path assumes: one lower-cased scan stands for every chain.
    rng = random.Random(7)
    names = list(TRANSFORMS)
    for text in CORPUS:
        if triggered(text):
            continue
        chain = tuple(rng.choice(names) for _ in range(rng.randint(1, 6)))
        expected = text.lower() if "lowercase" in chain else text
        assert apply_chain(chain, text) == expected, (chain, text)


def test_only_two_characters_lower_case_into_ascii_and_lower_case_wakes_nothing_else() -> None:
    """What `acting_decoders` takes for granted to skip the lower case of most texts: every
    character whose lower case holds ASCII is in LOWER_CASED_INTO_ASCII, and texts without them
    wake no more decoders lower-cased."""
    from firewall.engine.decoded import LOWER_CASED_INTO_ASCII

    into_ascii = [chr(c) for c in range(0x80, 0x110000) if any(ord(x) < 0x80 for x in chr(c).lower())]
    assert into_ascii == list(LOWER_CASED_INTO_ASCII)
    rng = random.Random(47)
    alphabet = [*"aZ9+/-_&#%' .", "é", "Σ", "Ǆ", "ß", "Ａ", "\u0307", "ﬁ", "Ω", "ῼ", "\u1e9e"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        if not text.isascii() and not any(ch in text for ch in LOWER_CASED_INTO_ASCII):
            assert triggered(text.lower()) <= triggered(text), text


def test_no_character_lower_cases_into_whitespace() -> None:
    """Why `batching._spaced` searches a text for whitespace, and not its lower case too. Lower
    casing a string lower cases each character (a final sigma aside, which is no whitespace)."""
    import re

    others = "".join(ch for ch in map(chr, range(0x110000)) if not ch.isspace())
    assert re.search(r"\s", others.lower()) is None


def test_spaced_is_its_trigger_within_one_text() -> None:
    """`batching._spaced` (two spaces, or whitespace other than a space or a newline) agrees with the
    search it stands for, on texts ASCII or not, each ASCII whitespace character among them."""
    import re

    from firewall.engine.batching import _spaced

    definition = re.compile(r"  |[^\S \n]")
    alphabet = [*"ab \n", *(chr(c) for c in range(0x80) if chr(c).isspace()), "\x85", "\xa0", "\u3000", "é"]
    rng = random.Random(53)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert _spaced(text) == (definition.search(text) is not None), repr(text)


def test_lowercase_of_ascii_wakes_no_trigger() -> None:
    """Why the matcher checks the lower case of non-ASCII text only, and why a decoded text lower-cased
    from ASCII may take the triggers of the text it came from (at worst a decoder that then changes
    nothing: a URL-safe base64 run needs both cases, which lower case takes away)."""
    for text in [*CORPUS, "K" * 25, "Y2F0IC9ldGMvcGFzc3dk".upper(), "&AMP; %2F /./ A\\B"]:
        if not text.isascii():
            continue
        for name, transform in TRANSFORMS.items():
            if transform.trigger is not None:
                before, after = transform.trigger.search(text), transform.trigger.search(text.lower())
                assert before is not None or after is None, (name, text)


def test_other_spaces_are_the_whitespace_but_a_space() -> None:
    """`OTHER_SPACES` spells out `[^\\S ]` for speed: over all of Unicode, on this Python's tables."""
    import re
    import sys

    from firewall.engine.transforms import OTHER_SPACES

    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert set(OTHER_SPACES) == set(re.findall(r"[^\S ]", every))


def test_chains_without_an_acting_decoder_yield_the_text_up_to_case() -> None:
    rng = random.Random(11)
    names = list(TRANSFORMS)
    checked = 0
    for text in CORPUS:
        acting = acting_decoders(text)
        quiet = [n for n in names if n not in acting]
        if not acting or not quiet:
            continue
        chain = tuple(rng.choice(quiet) for _ in range(rng.randint(1, 6)))
        expected = text.lower() if "lowercase" in chain else text
        assert apply_chain(chain, text) == expected, (chain, text)
        checked += 1
    assert checked >= 1000


def test_a_decoder_woken_by_lower_case_counts_as_acting() -> None:
    kelvin = "b2h4bnp\u212ad2pjbnd0am16b3pp"  # runs of 7 and 16; lower-cased, base64 of printable text
    assert apply_chain(("lowercase", "base64_decode"), kelvin) != kelvin.lower()  # the decoder does act
    assert "base64_decode" in acting_decoders(kelvin)


def test_no_transform_raises_on_random_or_broken_text() -> None:
    for text in CORPUS:
        for name, transform in TRANSFORMS.items():
            out = transform.function(text)
            assert isinstance(out, str), name


def test_the_path_trigger_is_a_backslash_a_dot_segment_or_slashes_not_after_a_colon() -> None:
    """The path trigger, told by counts of `//` and `://`, finds what its definition does."""
    import re

    definition = re.compile(r"\\|/\./|(?<!:)//")
    trigger = TRANSFORMS["path_normalize"].trigger
    assert trigger is not None
    pieces = ["/", "/", ":", ".", "\\", "a", "//", "://", ":///", "https://x"]
    rng = random.Random(59)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        assert (trigger.search(text) is not None) == (definition.search(text) is not None), text


def test_triggered_finds_exactly_the_transforms_whose_trigger_occurs() -> None:
    """`triggered` replaces one search per trigger with a scan for trigger characters: on the corpus
    and on random strings of trigger characters, short or inside a long text, both must give the
    same transforms."""
    def searched(text: str) -> frozenset[str]:
        return frozenset(n for n, t in TRANSFORMS.items() if t.trigger is not None and t.trigger.search(text))

    alphabet = list("ab Z09/+%&#;\\\x00'\"^`${}*.:=-\t\n\r\x0b\x0c\x1c\x1f\xa0\u2003é\uff21\u212a")
    rng = random.Random(29)
    samples = [*CORPUS, "x" * 3000 + "'", "A" * 19, "A" * 20, "a:b//c", "a//b", "/./", "a  b", "&amp", "& b"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(20_000)]
    filler = "word " * 420  # past ONE_SCAN_LENGTH: each trigger character is looked for on its own
    for short in samples[-2_000:]:
        cut = rng.randint(0, len(filler))
        samples.append(filler[:cut] + short + filler[cut:])
    for text in samples:
        assert triggered(text) == searched(text), text[:80]


def test_a_batch_told_in_bytes_gets_what_triggered_gives_each_text() -> None:
    """`told` looks for triggers in a batch's join: on random texts (`!`, runs of 19 to 21
    characters of either base64 alphabet, pieces of two-character triggers, `/.` with and without
    `/./`), every ASCII text gets `triggered` of it (quiet where that is empty), and a text that
    is not ASCII is neither quiet nor told. Where a text holds the separator, none is told, and a
    text the searches find something in is not quiet, as a model of them says."""
    import re

    pieces = ["a", "Z", "9", " ", "  ", "/", "*", ".", "-", "_", "!", "&", "#", "%", "'", "\t", "é", "?", ":",
              "\\", "\x00", "/./", "Ab-" * 7, "ab_cd" * 4, "A" * 19, "b" * 21, "ab-cd" * 5, "aB-cD" * 4]
    characters = "[" + re.escape("%+\\\x00'\"^`${") + "\t-\r\x1c-\x1f]"
    looked_for = re.compile(characters + "|  |/[*.]|(?<!:)//|&[#A-Za-z]|[A-Za-z0-9+/]{20}")
    urlsafe_run = re.compile("[A-Za-z0-9_-]{20}")

    def found(text: str) -> bool:  # what the searches look for (a URL-safe run: with - or _, and both cases)
        mixed = ("-" in text or "_" in text) and not text.islower() and not text.isupper()
        return looked_for.search(text) is not None or (mixed and urlsafe_run.search(text) is not None)

    assert told(["//etc/passwd", "calm"]) == (bytearray([0, 1]), [frozenset({"path_normalize"}), None])  # at the start
    assert told(["a/.b", "a & b", "x/./y"]) == (bytearray([1, 1, 0]), [None, None, frozenset({"path_normalize"})])
    rng = random.Random(43)
    seen = {"quiet": 0, "told": 0, "separated": 0}
    for _ in range(600):
        texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 60))]
        separated = rng.random() < 0.2
        if separated:
            texts[rng.randrange(len(texts))] += "\x01"
        calm, acting = told(texts)
        for text, one, names in zip(texts, calm, acting, strict=True):
            if separated:
                assert names is None and one == (text.isascii() and not found(text)), text
                seen["separated"] += one
                continue
            assert one == (text.isascii() and not triggered(text)), text
            assert names == (triggered(text) if text.isascii() and not one else None), text
            seen["quiet"] += one
            seen["told"] += names is not None
    assert min(seen.values()) > 1000, seen


def test_quiet_gives_up_in_a_flood_of_texts_its_searches_find() -> None:
    """Trigger characters are told text by text in C, whatever their number; the substring searches
    that follow stop in a flood of what they find, and then no text is said to be quiet."""
    calm = ["calm", "http://calm"]
    percent = [f"%{n:05d}" for n in range(QUIET_GIVE_UP * 2)]
    assert told([*calm, *percent, *calm])[0] == bytearray([1, 1, *[0] * len(percent), 1, 1])
    comments = [f"/*{n:05d}" for n in range(QUIET_GIVE_UP * 2)]
    fewer = QUIET_GIVE_UP - 2
    assert told([*calm, *comments[:fewer], *calm])[0] == bytearray([1, 1, *[0] * fewer, 1, 1])
    assert told([*calm, *comments, *calm])[0] == bytearray(len(comments) + 4)  # not looked at: each text is evaluated
    assert told([*calm, *comments, *calm])[1] == [None] * (len(comments) + 4)
    assert told(["a\x01b", "calm", "%41"])[0] == bytearray([1, 1, 0])  # a text holding the separator


def test_texts_that_differ_only_in_digits_share_their_acting_decoders() -> None:
    """`acting_decoders_of` evaluates one text per shape (ASCII digits as 0): every text must get what
    its own evaluation gives, base64 runs of digits and letters and Unicode digits included."""
    alphabet = list("aZ0123456789+/%&#;\\\x00'\"^`$-_{} \t\u0663\uff11é")
    rng = random.Random(31)
    texts = [*CORPUS, "A1" * 10, "A" * 19 + "7", "%4", "&#9", "\\7", "x" * SHAPED_LENGTH + "1"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, SHAPED_LENGTH))) for _ in range(20_000)]
    texts += [text.translate(str.maketrans("0123456789", "9876543210")) for text in texts]
    calm, evaluated = acting_decoders_of(dict.fromkeys(texts))
    shared = {**dict.fromkeys(calm, frozenset()), **dict(evaluated)}
    assert len(shared) == len(calm) + len(evaluated)
    assert all(shared[text] == acting_decoders(text) for text in texts)
    assert len({text.translate(str.maketrans("123456789", "000000000")) for text in shared}) < len(shared)


def test_sql_comments_are_removed_as_the_two_substitutions_define_them() -> None:
    """Executable comments are only looked for up to the last `*/` (no opener after it can be one):
    the result is the same as applying both substitutions to the whole text."""
    import regex

    executable = regex.compile(r"/\*!\d*(.*?)\*/", regex.DOTALL)
    comment = regex.compile(r"/\*.*?(?:\*/|$)", regex.DOTALL)
    parts = ["/*", "*/", "/*!", "/*!5000", "x", " ", "union", "select", "\n", "*", "/", "!"]
    rng = random.Random(41)
    for _ in range(20_000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 12)))
        expected = comment.sub(" ", executable.sub(r" \1 ", text)) if "/*" in text else text
        assert remove_sql_comments(text) == expected, text
    assert remove_sql_comments("/*!" * 1000 + "union") == " "


def test_the_base64_trigger_finds_exactly_the_runs_of_twenty_standard_characters() -> None:
    """The byte-mapped search against the plain regex, on texts with runs of 19, 20 and more
    alphabet characters broken by non-ASCII ones, spaces or `=`."""
    import re

    from firewall.engine.transforms import _BASE64_RUNS, urlsafe_runs

    rng = random.Random(20)
    pieces = ["a", "Z", "9", "+", "/", " ", "=", "é", "-", "_", "ａ", "\x00"]
    texts = [*CORPUS, "x" * 19, "x" * 20, "é" + "b" * 20, "a" * 10 + "é" + "a" * 10]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(15, 60))) for _ in range(3000)]
    for text in texts:
        expected = re.search(r"[A-Za-z0-9+/]{20}", text) is not None or next(urlsafe_runs(text), None) is not None
        assert (_BASE64_RUNS.search(text) is not None) == expected, text
