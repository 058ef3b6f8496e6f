"""Decoding and normalisation transforms, each a small pure `str -> str` function.

A signature lists the transforms its pattern expects, in order. Every transform also carries a
`trigger`: a pattern that must occur in a text for the transform to change it. The matcher uses the
triggers to skip work on plain values (most benign fields), so a trigger must never be narrower
than what its function acts on; `tests/unit/test_transforms.py` checks that on every example.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, chain, compress, count
from operator import add, gt
from typing import Protocol

import re2
import regex

MAX_ROUNDS = 5
"""How often a decoder is re-applied until its output is stable (double encoding and more)."""


class Trigger(Protocol):
    def search(self, text: str, /) -> object | None: ...


@dataclass(frozen=True)
class Transform:
    name: str
    function: Callable[[str], str]
    trigger: Trigger | None
    """None: the transform may change any text (case folding). Compiled with the standard
    library's engine: these simple patterns are searched on every field, and it is faster."""
    summary: str


def _until_stable(step: Callable[[str], str], text: str) -> str:
    for _ in range(MAX_ROUNDS):
        decoded = step(text)
        if decoded == text:
            break
        text = decoded
    return text


# --- URL decoding -----------------------------------------------------------------------------

_PERCENT_RUN = regex.compile(r"(?:%[0-9A-Fa-f]{2})+")
_PERCENT_U = regex.compile(r"%[uU]([0-9A-Fa-f]{4})")
_OVERLONG = regex.compile(r"%[cC]([01])%([89abAB][0-9A-Fa-f])")


def _overlong(m: regex.Match[str]) -> str:
    # %c0%ae is an overlong UTF-8 form of "." that some decoders accept: decode it as they do.
    return chr(((int(m.group(1), 16) & 0x1F) << 6) | (int(m.group(2), 16) & 0x3F))


def _percent_run(m: regex.Match[str]) -> str:
    run = m.group(0)
    return _short_run(run) if len(run) <= SHORT_RUN else _decoded_run(run)


def _decoded_run(run: str) -> str:
    """A run of `%XX` as UTF-8, bytes that are not as Latin-1."""
    raw = bytes.fromhex(run.replace("%", ""))
    return raw.decode("utf-8", errors="surrogateescape").translate(_SURROGATE_TO_LATIN1)


_SURROGATE_TO_LATIN1 = {0xDC80 + b: chr(0x80 + b) for b in range(128)}
SHORT_RUN = 48
_short_run = functools.lru_cache(maxsize=4096)(_decoded_run)
"""Short runs are cached: the same few (`%20`, `%2F`) recur in every URL of a record."""


def _url_decode_once(text: str) -> str:
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    text = _PERCENT_U.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = _OVERLONG.sub(_overlong, text)
    return _PERCENT_RUN.sub(_percent_run, text)


def url_decode(text: str) -> str:
    """Percent-decoding repeated until stable, with `%uXXXX`, overlong UTF-8 and `+` as space."""
    return _until_stable(_url_decode_once, text)


# --- HTML entities ----------------------------------------------------------------------------

def html_entity_decode(text: str) -> str:
    """Named and numeric character references, with or without `;`, repeated until stable."""
    return _until_stable(html.unescape, text)


# --- JavaScript, CSS and backslash escapes ----------------------------------------------------

_JS_ESCAPE = regex.compile(
    r"\\(?:u\{([0-9A-Fa-f]{1,6})\}|u([0-9A-Fa-f]{4})|x([0-9A-Fa-f]{2})|([0-7]{1,3})|(.))",
    regex.DOTALL,
)
_JS_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _safe_chr(code: int) -> str:
    return chr(code) if 0 <= code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"


def _js_escape(m: regex.Match[str]) -> str:
    brace, u4, x2, octal, other = m.groups()
    if brace or u4 or x2:
        return _safe_chr(int(brace or u4 or x2, 16))
    if octal:
        return _safe_chr(int(octal, 8))
    return _JS_SIMPLE.get(other, other)


def js_decode_once(text: str) -> str:
    """One round of `js_decode`."""
    return _JS_ESCAPE.sub(_js_escape, text)


def js_decode(text: str) -> str:
    """JavaScript string escapes: `\\xHH`, `\\uHHHH`, `\\u{H..}`, octal, and `\\c` for any c."""
    if "\\" not in text:
        return text
    return _until_stable(js_decode_once, text)


_CSS_ESCAPE = regex.compile(r"\\([0-9A-Fa-f]{1,6})[ \t\n\r\f]?|\\([^0-9A-Fa-f\n])")


def css_decode(text: str) -> str:
    """CSS escapes: `\\HHHHHH` with an optional following space, and `\\c` for any c."""
    if "\\" not in text:
        return text

    def one(m: regex.Match[str]) -> str:
        return _safe_chr(int(m.group(1), 16)) if m.group(1) else m.group(2)

    return _CSS_ESCAPE.sub(one, text)


# --- Unicode, case, whitespace, NUL ----------------------------------------------------------

def unicode_nfkc(text: str) -> str:
    """NFKC: full-width and other compatibility look-alikes become their ASCII forms."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def lowercase(text: str) -> str:
    lowered = text.lower()
    return text if lowered == text else lowered  # the same object lets later steps share work


_WHITESPACE_RUN = regex.compile(r"\s+")
_COMPRESSIBLE = regex.compile(r"\s\s|[^\S ]")


def compress_whitespace(text: str) -> str:
    """Every run of whitespace (tabs, newlines, no-break spaces...) becomes one space."""
    if _COMPRESSIBLE.search(text) is None:
        return text
    return _WHITESPACE_RUN.sub(" ", text)


def remove_nulls(text: str) -> str:
    return text.replace("\x00", "")


# --- SQL comments -----------------------------------------------------------------------------

_MYSQL_EXECUTABLE_COMMENT = regex.compile(r"/\*!\d*(.*?)\*/", regex.DOTALL)
_C_COMMENT = regex.compile(r"/\*.*?(?:\*/|$)", regex.DOTALL)


def remove_sql_comments(text: str) -> str:
    """`/* ... */` becomes a space; MySQL's executable `/*!50000 ... */` keeps its content.

    Executable comments are looked for only up to the last `*/`: an opener with no `*/` after it
    cannot be one, and trying each such opener to the end of the text took quadratic time
    (`/*!` repeated 87,000 times: 6 s)."""
    if "/*" not in text:
        return text
    last = text.rfind("*/")
    if last >= 0 and "/*!" in text:
        text = _MYSQL_EXECUTABLE_COMMENT.sub(r" \1 ", text[: last + 2]) + text[last + 2 :]
    return _C_COMMENT.sub(" ", text)


# --- Command lines ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _expansions(
    separator: str,
) -> tuple[regex.Pattern[str], regex.Pattern[str], regex.Pattern[str], regex.Pattern[str]]:
    """`${IFS}`, `$IFS%...}` and `${x:-}`; `{cmd,arg}` lists; bash's ANSI-C quoting `$'...'`; empty
    expansions. None takes in `separator` (none when ""): for texts joined by it (`batching`), each
    ends there as at the end of a text. (A decoding that took in a newline separator while another
    made one, as `$(<newline>)` next to `$'\\n'` did, would keep the count `batching` checks.)"""
    inside = "[^}" + regex.escape(separator) + "]"
    ifs = regex.compile(r"\$\{?IFS(?:[%#]+" + inside + r"*)?\}?|\$\{" + inside + r"{0,20}:-? ?\}")
    item = r"[^{}\s" + regex.escape(separator) + "]{0,200}"
    escaped = r"\\[^" + regex.escape(separator) + "]" if separator else r"\\."
    quoted = r"\$'((?:[^'\\" + regex.escape(separator) + "]|" + escaped + "){1,200})'"
    space = r"[^\S" + regex.escape(separator) + "]" if separator else r"\s"
    # Expansions an attacker writes to yield nothing inside a word: `$@`, `$1`, an empty `$()`, and a
    # variable (`${u}`, or `$u` before a quote) that is unset: `c$u'at'` and `w${u}get` run `cat`, `wget`.
    empty = regex.compile(
        r"\$@|\$\*|\$\{?[0-9]\}?(?=[A-Za-z/])|\$\(" + space + r"*\)|\$\{[A-Za-z_]\w{0,30}\}(?=[\w'\"/\\])"
        r"|\$[A-Za-z_]\w{0,30}(?=['\"\\`])"
    )
    return ifs, regex.compile(r"\{(" + item + "," + item + r")\}"), regex.compile(quoted, regex.DOTALL), empty


_SLASH_SUBSTRINGS = regex.compile(r"\$\{(?:PATH|HOME|PWD|OLDPWD|SHELL):0:1\}")
"""`${PATH:0:1}` and its like: the first character of a variable that always starts with `/`."""
_ANSI_C_ESCAPE = regex.compile(
    r"\\(?:x([0-9A-Fa-f]{1,2})|([0-7]{1,3})|u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8})|c(\\\\|[\x20-\x7e])|(.))",
    regex.DOTALL,
)
_ANSI_C_NAMED = {"n": "\n", "t": "\t", "r": "\r", "e": "\x1b", "E": "\x1b", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _ansi_c(match: regex.Match[str]) -> str:
    """The text bash makes of `$'...'`: hexadecimal, octal, Unicode (`\\u0077`), control (`\\cJ`)
    and named escapes; `\\'` is a quote. A code point no character has stays written out."""

    def escape(m: regex.Match[str]) -> str:
        hexadecimal, octal, short_unicode, long_unicode, control, other = m.groups()
        unicode = short_unicode or long_unicode
        if hexadecimal is not None:
            return chr(int(hexadecimal, 16))
        if octal is not None:
            return chr(int(octal, 8) & 0xFF)
        if unicode is not None:
            code = int(unicode, 16)
            return m.group(0) if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF else chr(code)
        if control is not None:  # `\c?` is DEL; `\c\\` takes both backslashes, as bash does
            return "\x7f" if control == "?" else chr(ord(control[0]) & 0x1F)
        return _ANSI_C_NAMED.get(other, other)

    return _ANSI_C_ESCAPE.sub(escape, match.group(1))


_LINE_CONTINUATION = regex.compile(r"\\\r?\n")
"""A backslash before a line break continues the line: `wg\\<newline>et` runs `wget`."""
_CMD_QUOTES = str.maketrans("", "", "\\'\"^`")
_CMD_QUOTE_CHARS = regex.compile(r"[\\'\"^`]")


def cmdline_normalize(text: str, within: str = "") -> str:
    """Undo shell obfuscation: `${IFS}` and `{cmd,arg}` become spaces, `$'\\x77'` its character,
    `${PATH:0:1}` a slash, and line continuations, quotes, carets, backslashes and empty expansions
    (`$@`, `$1`, `$()`, an unset `$u` inside a word) vanish, so `c'a't${IFS}/e\\tc/pa""sswd` and
    `c$u'at' /e$u'tc'/passwd` read `cat /etc/passwd`. `within`: the character that joins several
    texts none of which holds it; each is then normalised as if alone."""
    ifs, brace_list, ansi_c, empty_expansions = _expansions(within)
    if "$" in text:
        text = ifs.sub(" ", text)
        if "$'" in text:
            text = ansi_c.sub(_ansi_c, text)
        text = _SLASH_SUBSTRINGS.sub("/", text)
        text = empty_expansions.sub("", text)
    if "{" in text:
        text = brace_list.sub(lambda m: m.group(1).replace(",", " "), text)
    if within != "\n" and "\n" in text and "\\" in text:  # texts joined by newlines hold none
        text = _LINE_CONTINUATION.sub("", text)
    if _CMD_QUOTE_CHARS.search(text) is None:
        return text
    return text.translate(_CMD_QUOTES)


# --- Paths ------------------------------------------------------------------------------------

_SLASH_RUN = regex.compile(r"(?<!:)/{2,}")
_DOT_SEGMENT = regex.compile(r"/(?:\./)+")


def path_normalize(text: str) -> str:
    """Backslashes become slashes, `//` (but a URL's `://`) and `/./` collapse; `..` is kept, since
    it is evidence."""
    if "\\" in text:
        text = text.replace("\\", "/")
    if "//" in text:
        text = _SLASH_RUN.sub("/", text)
    if "/./" in text:
        text = _DOT_SEGMENT.sub("/", text)
    return text


# --- Base64 -----------------------------------------------------------------------------------

_BASE64_RUN = regex.compile(r"[A-Za-z0-9+/]{20,}={0,2}")
_URLSAFE_RUN = re.compile(r"[A-Za-z0-9_-]{20,}={0,2}")
"""The standard engine: `triggered` looks for these on every decoded text of a group, and on a
joined text of short runs `regex` takes five times as long."""
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")
MAX_BASE64_RUNS = 32
MAX_BASE64_ATTEMPTS = 256
"""Runs tried per text: a value made of thousands of base64-looking words must not cost a decode
attempt each (the first MAX_BASE64_ATTEMPTS are tried, as an attacker's payload would be early)."""


MIN_PRINTABLE_SHARE = 0.6
"""Of a decoded base64 run, the share of printable characters that makes it text worth inspecting.
Random bytes rarely decode as UTF-8 at all; a serialised stream does, with a few control bytes
between its strings (a protocol-1 pickle calling posix.system is a quarter control bytes)."""


def _decode_base64_run(run: str) -> str | None:
    padded = run.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
    return decoded if decoded and printable >= MIN_PRINTABLE_SHARE * len(decoded) else None


def _may_hold_urlsafe_runs(text: str) -> bool:
    return ("-" in text or "_" in text) and not text.islower() and not text.isupper()


def urlsafe_runs(text: str) -> Iterator[str]:
    """Runs of base64's URL-safe alphabet (RFC 4648, section 5: `-` and `_` for `+` and `/`) that
    standard runs miss, in the standard alphabet: they hold `-` or `_`, and letters of both cases,
    as encoded text does and slugs, snake_case names, SKUs and UUIDs do not."""
    if not _may_hold_urlsafe_runs(text):
        return  # no run can qualify: lower-cased texts, decoded in every group, end here
    for m in _URLSAFE_RUN.finditer(text):
        run = m.group(0)
        if ("-" in run or "_" in run) and _UPPER.search(run) and _LOWER.search(run):
            yield run.translate(_URLSAFE_TO_STANDARD)


def base64_decode(text: str) -> str:
    """Appends the decoded text of base64 runs of 20+ characters (15 bytes: shorter ones hide no
    attack worth the work and are mostly identifiers), in the standard or the URL-safe alphabet,
    that decode to printable UTF-8 to the value, so that both the original and what it hides are
    inspected."""
    decoded: list[str] = []
    runs = chain((m.group(0) for m in _BASE64_RUN.finditer(text)), urlsafe_runs(text))
    for attempt, run in enumerate(runs):
        if len(decoded) >= MAX_BASE64_RUNS or attempt >= MAX_BASE64_ATTEMPTS:
            break
        plain = _decode_base64_run(run)
        if plain is not None:
            decoded.append(plain)
    return text if not decoded else text + "\n" + "\n".join(decoded)


# --- Registry ---------------------------------------------------------------------------------

_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_STANDARD_ALPHABET = _LETTERS + b"0123456789+/"
_URLSAFE_ALPHABET = _LETTERS + b"0123456789-_"
_AS_RUN = bytes(0x61 if byte in _STANDARD_ALPHABET else 0x20 for byte in range(256))
"""Bytes of the standard alphabet as `a`, every other byte as a space."""
_RUN = b"a" * 20


class _Base64Trigger:
    """A run of 20 characters of the standard alphabet, or a URL-safe run `urlsafe_runs` takes.
    The standard run is looked for in the text's ASCII bytes mapped to `a` (alphabet) or a space
    (anything else, a non-ASCII character included): a C loop, four times faster than the
    standard engine's search for `[A-Za-z0-9+/]{20}` on prose."""

    def search(self, text: str, /) -> object | None:
        if len(text) < 20:  # a run of 20 needs 20 characters
            return None
        encoded = text.encode("ascii", "replace")
        if _RUN in encoded.translate(_AS_RUN):
            return True
        if _RUN not in encoded.translate(_AS_ANY_RUN):  # no run of 20 in either alphabet
            return None
        return next(urlsafe_runs(text), None)


_BASE64_RUNS = _Base64Trigger()


class _PathTrigger:
    """A backslash, `//` not after a colon, or `/./`, told by substring tests and counts: the standard
    engine's search for `(?<!:)//` took 37 us on a 3 KB group of texts holding URLs. Without `///`,
    every `//` is a run of two slashes, so some `//` is not after a colon exactly when there are more
    of them than of `://`."""

    def search(self, text: str, /) -> object | None:
        if "\\" in text or "/./" in text or "///" in text:
            return True
        return True if "//" in text and text.count("//") > text.count("://") else None


_PATHS = _PathTrigger()


def _t(name: str, function: Callable[[str], str], trigger: str | Trigger | None, summary: str) -> Transform:
    return Transform(name, function, re.compile(trigger) if isinstance(trigger, str) else trigger, summary)


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        _t("url_decode", url_decode, r"[%+]", "percent-decoding until stable, %uXXXX, + as space"),
        _t("html_entity_decode", html_entity_decode, r"&[#A-Za-z]", "HTML character references"),
        _t("js_decode", js_decode, r"\\", "JavaScript escapes"),
        _t("css_decode", css_decode, r"\\", "CSS escapes"),
        _t("unicode_nfkc", unicode_nfkc, r"[^\x00-\x7f]", "Unicode NFKC (full-width look-alikes)"),
        _t("lowercase", lowercase, None, "lower case"),
        _t("compress_whitespace", compress_whitespace, r"\s\s|[^\S ]", "whitespace runs to one space"),
        _t("remove_nulls", remove_nulls, r"\x00", "NUL characters removed"),
        _t("remove_sql_comments", remove_sql_comments, r"/\*", "SQL /* */ comments removed"),
        _t("cmdline_normalize", cmdline_normalize, r"[\\'\"^`${]", "shell quoting and ${IFS} undone"),
        _t("path_normalize", path_normalize, _PATHS, "path separators normalised"),
        _t("base64_decode", base64_decode, _BASE64_RUNS, "base64 runs (standard or URL-safe) decoded and appended"),
    )
}

OTHER_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c != " ")
"""The whitespace other than a space (what `[^\\S ]` matches; none lies past U+3000), spelled out:
the standard engine scans for a set of characters several times faster than for a negated class."""
_TRIGGER_SYMBOLS = "%+&\\\x00'\"^`${"
"""The trigger characters that are not whitespace."""
_TRIGGER_SET = _TRIGGER_SYMBOLS + OTHER_SPACES
_TRIGGER_CHARACTERS = re.compile("[" + re.escape(_TRIGGER_SET) + "]")
"""Every single character that is, or starts, a trigger (whitespace other than a space included)."""
_NOT_TRIGGER_BYTES = bytes(byte for byte in range(256) if not (byte < 0x80 and chr(byte) in _TRIGGER_SET))
"""Every byte but those of the ASCII trigger characters, for `bytes.translate` to delete."""
_CMDLINE_CHARACTERS = frozenset("\\'\"^`${")
_REFERENCE_START = r"&[#A-Za-z]"
_COMMENT_START = r"/\*"
_STANDARD_RUN = r"[A-Za-z0-9+/]{20}"
_URLSAFE_CHARACTERS_RUN = r"[A-Za-z0-9_-]{20}"
"""Triggers the fast paths below spell alike for the standard engine and RE2 (`TRANSFORMS` keeps
its own spelling: the tests hold the fast paths to it)."""
_HTML_REFERENCE = re.compile(_REFERENCE_START)
_NOT_WHITESPACE = frozenset(_TRIGGER_SYMBOLS)
_OTHER_WHITESPACE = re.compile("[" + re.escape(OTHER_SPACES) + "]")
ONE_SCAN_LENGTH = 2048
"""Up to this length `triggered` finds every trigger character of a text that is not ASCII in one
scan; past it a text may hold thousands of them, and each is looked for by a substring test
instead. An ASCII text's are what `bytes.translate` leaves of it, whatever its length."""


_AS_ANY_RUN = bytes(0x61 if byte in _STANDARD_ALPHABET + b"-_" else 0x20 for byte in range(256))
"""Bytes of either base64 alphabet (standard, URL-safe) as `a`, every other byte as a space."""


def _as_re2_class(characters: str) -> str:
    return "[" + "".join(f"\\x{{{ord(character):x}}}" for character in characters) + "]"


def _re2_set(patterns: Iterable[str]) -> re2.Set:
    """`patterns` in one RE2 set, numbered from 1 after pattern 0, the end of the text: a match
    without 0 shows that RE2 gave up (its automaton outgrew its memory)."""
    options = re2.Options()
    options.log_errors = False
    matcher = re2.Set.SearchSet(options)
    for pattern in (r"\z", *patterns):
        matcher.Add(pattern)
    matcher.Compile()
    return matcher


_URLSAFE_CANDIDATE = "urlsafe run"
"""Stands for a run of 20 URL-safe characters, which is base64's trigger only as `urlsafe_runs` confirms."""

_RE2_TRIGGERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"[%+]", ("url_decode",)),
    (_REFERENCE_START, ("html_entity_decode",)),
    (r"\\", ("js_decode", "css_decode", "path_normalize")),
    (r"\x00", ("remove_nulls",)),
    (_as_re2_class("".join(sorted(_CMDLINE_CHARACTERS))), ("cmdline_normalize",)),
    ("  |" + _as_re2_class(OTHER_SPACES), ("compress_whitespace",)),  # `\s\s|[^\S ]`: RE2's `\s` is ASCII
    (r"[^\x00-\x7f]", ("unicode_nfkc",)),
    (_COMMENT_START, ("remove_sql_comments",)),
    (r"/\./|(?:^|[^:])//", ("path_normalize",)),
    (_STANDARD_RUN, ("base64_decode",)),
    (_URLSAFE_CHARACTERS_RUN, (_URLSAFE_CANDIDATE,)),
)
"""Every transform's trigger as RE2 spells it, and the transforms it wakes."""

SCANNED_LENGTH = 16
"""From this length, `triggered` looks for every trigger at once with RE2 (`_TriggerScan`)."""


class _TriggerScan:
    """Every trigger in one RE2 set: one pass over the text in C, at about 2 ns a byte (`triggered`'s
    substring tests and searches took three times as long on a 4 KB group of notes, and more on
    shorter texts). Pattern 0, the end of the text, shows that RE2 did not give up."""

    def __init__(self) -> None:
        self._set = _re2_set(pattern for pattern, _names in _RE2_TRIGGERS)
        self._names = [(), *(names for _pattern, names in _RE2_TRIGGERS)]

    def names(self, text: str) -> frozenset[str] | None:
        """`triggered(text)`; None when RE2 cannot tell (a lone surrogate, which UTF-8 cannot encode)."""
        try:
            encoded = text.encode()
        except UnicodeEncodeError:
            return None
        numbers = self._set.Match(encoded)
        if not numbers or 0 not in numbers:
            return None
        found = {name for number in numbers for name in self._names[number]}
        if _URLSAFE_CANDIDATE in found:
            found.discard(_URLSAFE_CANDIDATE)
            if next(urlsafe_runs(text), None) is not None:
                found.add("base64_decode")
        return frozenset(found)


_TRIGGER_SCAN = _TriggerScan()


def _woken_by_characters(holds: Callable[[str], bool]) -> list[str]:
    """The transforms that a trigger character wakes alone, of those a text `holds`: `%` or `+`, a
    backslash, NUL, and the shell's quotes and sigils."""
    names: list[str] = []
    if holds("%") or holds("+"):
        names.append("url_decode")
    if holds("\\"):
        names += ("js_decode", "css_decode", "path_normalize")
    if holds("\x00"):
        names.append("remove_nulls")
    if any(map(holds, _CMDLINE_CHARACTERS)):
        names.append("cmdline_normalize")
    return names


def triggered(text: str) -> frozenset[str]:
    """The transforms whose trigger occurs in `text` (all but `lowercase`, which has none).

    The same answer as searching every transform's trigger: it runs on every distinct field of
    every record that `told` does not tell, and on every decoded text of a group of them. From
    `SCANNED_LENGTH` characters, one RE2 pass looks for every trigger (`_TriggerScan`); a shorter
    text, or one RE2 cannot take, gets one pass for trigger characters (`ONE_SCAN_LENGTH`) and a
    few more tests. `tests/unit/test_transforms.py` checks both agree with the searches."""
    if len(text) >= SCANNED_LENGTH:
        scanned = _TRIGGER_SCAN.names(text)
        if scanned is not None:
            return scanned
    holds: Callable[[str], bool]
    found: set[str] | None
    if text.isascii():  # its trigger characters are what is left of its bytes once others are deleted
        found = set(text.encode("ascii").translate(None, _NOT_TRIGGER_BYTES).decode("ascii"))
        holds = found.__contains__
        spacing = bool(found) and not found <= _NOT_WHITESPACE
    elif len(text) <= ONE_SCAN_LENGTH:
        found = set(_TRIGGER_CHARACTERS.findall(text))
        holds = found.__contains__
        spacing = bool(found) and not found <= _NOT_WHITESPACE
    else:
        found = None
        holds = text.__contains__
        spacing = _OTHER_WHITESPACE.search(text) is not None
    names: list[str] = []
    if found is None or found:
        names = _woken_by_characters(holds)
        if holds("&") and _HTML_REFERENCE.search(text):
            names.append("html_entity_decode")
    if spacing or "  " in text:
        names.append("compress_whitespace")
    if not text.isascii():
        names.append("unicode_nfkc")
    if "/*" in text:
        names.append("remove_sql_comments")
    if "path_normalize" not in names and _PATHS.search(text):
        names.append("path_normalize")
    if _BASE64_RUNS.search(text):
        names.append("base64_decode")
    return frozenset(names)


QUIET_GIVE_UP = 256
"""`told` stops looking once this many texts, and most it has looked at, hold a trigger: in a
flood of them it would only add a search per text to the evaluation each still needs."""

_QUIET_SEPARATOR = "\x01"
"""Joins the texts `told` looks at: it is, and starts, no trigger, so none spans two texts."""
_QUIET_CHARACTERS = _TRIGGER_SET.replace("&", "")
"""The characters that are triggers alone (`&` is one only before a letter or `#`)."""
_TRIGGER_MARKS = bytes(0x21 if byte < 0x80 and chr(byte) in _QUIET_CHARACTERS else 0x61 for byte in range(256))
"""ASCII trigger characters as `!`, every other byte (a `!` too) as `a`."""
_NEITHER_TRIGGER_NOR_SEPARATOR = bytes(
    byte for byte in range(256) if byte != 0x01 and not (byte < 0x80 and chr(byte) in _QUIET_CHARACTERS)
)
_AS_REFERENCE = bytes(0x26 if byte == 0x26 else 0x61 if byte in _LETTERS + b"#" else 0x20 for byte in range(256))
"""`&` as itself, ASCII letters and `#` as `a` (`&a`: an HTML reference's start), all else a space."""
_AS_URLSAFE_RUN = bytes(0x75 if byte in _URLSAFE_ALPHABET else 0x20 for byte in range(256))
_URLSAFE_NEEDLE = b"u" * 20


_SPACES, _COMMENT, _SLASHES, _DOT, _REFERENCE, _RUN_FOUND, _URLSAFE_FOUND = (1 << bit for bit in range(7))
"""What `told`'s substring searches found in a text, one bit each."""
_FLAG_OF = {b"  ": _SPACES, b"/*": _COMMENT, b"//": _SLASHES, b"/.": _DOT, b"&a": _REFERENCE, _RUN: _RUN_FOUND}
_FLAG_OF[_URLSAFE_NEEDLE] = _URLSAFE_FOUND
_TOLD_MEMO_LENGTH = 64
"""Trigger characters up to this many are a key of `_told_names`' memo (a text's are mostly a few)."""


class _Searched:
    """Which of `told`'s substring searches can find something in a batch's join: one RE2 pass over
    it (9 us on a 6 KB batch of 1 KB records) tells, where the searches themselves took 45 us, most
    of them finding nothing. Pattern 0, the end of the text, shows that RE2 did not give up."""

    _SEARCHES: tuple[tuple[bytes, bytes | None, str], ...] = (
        (b"  ", None, "  "),
        (b"/*", None, _COMMENT_START),
        (b"//", None, r"(?:^|[^:])//"),
        (b"/.", None, r"/\."),
        (b"&a", _AS_REFERENCE, _REFERENCE_START),
        (_RUN, _AS_RUN, _STANDARD_RUN),
        (_URLSAFE_NEEDLE, _AS_URLSAFE_RUN, _URLSAFE_CHARACTERS_RUN),
    )
    """Each search: its needle, the translation of the join it looks in (None: the join itself), and
    what it finds as an RE2 pattern on the join."""

    def __init__(self) -> None:
        self._set = _re2_set(pattern for _needle, _table, pattern in self._SEARCHES)

    def present(self, joined: bytes) -> list[tuple[bytes, bytes | None]]:
        """The searches (needle, translation) that find something in `joined`: every one when RE2
        gives up."""
        numbers = self._set.Match(joined)
        if not numbers or 0 not in numbers:
            return [(needle, table) for needle, table, _pattern in self._SEARCHES]
        found = set(numbers)
        return [search[:2] for number, search in enumerate(self._SEARCHES, 1) if number in found]


_SEARCHED = _Searched()


def told(texts: list[str]) -> tuple[bytearray, list[frozenset[str] | None]]:
    """Per text, 1 where `triggered` is empty (no decoder acts on it), else 0; and per text that is
    not quiet, `triggered` of it where the batch's join tells it, else None. Most fields of real
    data are quiet, and a batch of them is told apart in bytes, over their join: trigger
    characters text by text in C (each text's, the bytes `translate` leaves between separators),
    then substring searches for two spaces, `/*`, `//` (not after a colon, as in a URL), `/.`,
    `&` before a letter or `#`, and a run of either base64 alphabet (a URL-safe one only in a text
    that may hold one, `urlsafe_runs`), each resuming past the text it found one in. An ASCII text's
    trigger characters and what the searches found in it make its `triggered` (`/.` and a URL-safe
    run confirmed on the text). A text that is not ASCII may wake Unicode normalisation, and is
    never quiet nor told; where a text holds the separator, or the searches give up (`QUIET_GIVE_UP`),
    none is told."""
    ascii = bytearray(map(str.isascii, texts))
    joined = _QUIET_SEPARATOR.join(texts).encode("ascii", "replace")  # one byte per character
    searches = [
        (joined if table is None else joined.translate(table), needle)
        for needle, table in _SEARCHED.present(joined)
    ]
    pieces = joined.translate(None, _NEITHER_TRIGGER_NOR_SEPARATOR).split(b"\x01")
    held = pieces if len(pieces) == len(texts) else None  # per text, its trigger characters
    if held is not None:
        result = bytearray(map(gt, ascii, map(len, held)))
    else:  # a text holds the separator
        result = ascii
        searches.insert(0, (joined.translate(_TRIGGER_MARKS), b"!"))
    flags = bytearray(len(texts))
    ends = list(map(add, accumulate(map(len, texts)), count(1))) if searches else []
    """Where each text ends (after its separator)."""
    flagged = 0
    for haystack, needle in searches:
        flag = _FLAG_OF.get(needle, 0)
        at = haystack.find(needle)
        while at >= 0:
            if needle == b"//" and at and haystack[at - 1] == 0x3A:  # `://`: no trigger there
                at = haystack.find(needle, at + 1)
                continue
            number = bisect_right(ends, at)
            if needle == _URLSAFE_NEEDLE and not _may_hold_urlsafe_runs(texts[number]):
                at = haystack.find(needle, ends[number])
                continue
            flags[number] |= flag
            if result[number]:
                result[number] = 0
                flagged += 1
                if flagged >= QUIET_GIVE_UP and 2 * flagged > number:
                    return bytearray(len(texts)), [None] * len(texts)
            at = haystack.find(needle, ends[number])
    acting: list[frozenset[str] | None] = [None] * len(texts)
    if held is None:
        return result, acting
    memo: dict[tuple[bytes, int], frozenset[str]] = {}
    for number in compress(range(len(texts)), map(gt, ascii, result)):  # ASCII, and not quiet
        names = _told_names(texts[number], held[number], flags[number], memo)
        if names:
            acting[number] = names
        else:  # `/.` or a URL-safe run the text did not confirm
            result[number] = 1
    return result, acting


def _told_names(text: str, held: bytes, flags: int, memo: dict[tuple[bytes, int], frozenset[str]]) -> frozenset[str]:
    """`triggered` of an ASCII text from its trigger characters (`held`, `&` aside) and what `told`'s
    searches found in it (`flags`). Texts with the same few trigger characters and findings (an
    address's `+`, a note's apostrophes) share one answer, in `memo`."""
    if flags & _DOT and "/./" not in text:
        flags &= ~_DOT
    if flags & _URLSAFE_FOUND and next(urlsafe_runs(text), None) is None:
        flags &= ~_URLSAFE_FOUND
    key = (held, flags)
    if len(held) <= _TOLD_MEMO_LENGTH and key in memo:
        return memo[key]
    characters = set(held.decode("ascii"))
    names = _woken_by_characters(characters.__contains__)
    if flags & _REFERENCE:
        names.append("html_entity_decode")
    if "path_normalize" not in names and flags & (_SLASHES | _DOT):
        names.append("path_normalize")
    if flags & _SPACES or not characters <= _NOT_WHITESPACE:  # whitespace other than a space
        names.append("compress_whitespace")
    if flags & _COMMENT:
        names.append("remove_sql_comments")
    if flags & (_RUN_FOUND | _URLSAFE_FOUND):
        names.append("base64_decode")
    found = frozenset(names)
    if len(held) <= _TOLD_MEMO_LENGTH:
        memo[key] = found
    return found


def apply_chain(names: tuple[str, ...], text: str) -> str:
    for name in names:
        text = TRANSFORMS[name].function(text)
    return text
