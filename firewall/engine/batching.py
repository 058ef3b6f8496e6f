"""Prefilter candidates of many decoded texts at once, when their decoders act on each text alone.

A record can carry thousands of fields that some decoder changes: prose with apostrophes, names
with accents, or an attacker's 20,000 copies of `it's 00042`. Decoding them one by one costs several
Python calls per text and chain. Some decoders never act across a separator (a `Joining`), so on
texts joined by it they give exactly the join of what they give on each text: a group of texts
with the same acting decoders is decoded, folded and scanned once per chain, and the hits are
mapped back to their text. A decoding that yields the separator makes the group try another
(control characters, then private-use ones). When none serves (decodings yield every separator
tried, or wake a decoder that acts across one), the caller halves the group, down to single texts.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate, compress, pairwise, repeat
from operator import contains, itemgetter, ne
from typing import TypeVar

from .compiler import LITERAL_ID, RuleSet
from .decoded import DecodedTexts, acting_decoders
from .screen import Allowance, Bound
from .transforms import MAX_ROUNDS, OTHER_SPACES, TRANSFORMS, cmdline_normalize, css_decode, js_decode_once


@dataclass(frozen=True)
class Joining:
    """A separator for joined texts, and the decoders that never act across it."""

    separator: str
    local: frozenset[str]


_ACROSS_NOTHING = frozenset(
    {"url_decode", "html_entity_decode", "cmdline_normalize", "remove_nulls", "unicode_nfkc", "path_normalize"}
)
_ESCAPES = frozenset({"js_decode", "css_decode"})
"""A final backslash takes the next character, a separator included: `_Joined` doubles a text's
last unpaired backslash before every round of these (`_escapes`)."""

_EACH_TEXT = frozenset({"remove_sql_comments", "base64_decode"})
"""Decoders that work on a whole text (an open SQL comment runs to its end, base64 appends to it):
`_Joined` applies them to each text, between the separators."""

BY_NEWLINE = Joining("\n", _ACROSS_NOTHING | _ESCAPES | {"remove_sql_comments"})
"""None of these decoders acts across a newline, and texts that wake none of the others hold no
newline (it would wake `compress_whitespace`). Excluded: whitespace compression (a newline is
whitespace) and base64 (it appends what it decodes after a newline)."""

BY_CONTROL = Joining("\x01", _ACROSS_NOTHING | _ESCAPES | _EACH_TEXT | {"compress_whitespace"})
"""For texts that decode to newlines (`%0a`, a `\\t` escape next to one): a control character is
not whitespace, so whitespace compression stays within a text. Where a text
holds U+0001 or a decoding yields it, another control character stands in (`CONTROL_SEPARATORS`)."""

CONTROL_SEPARATORS = "".join(ch for ch in map(chr, [*range(1, 32), 127]) if not ch.isspace()) + "\ue000\ue001"
"""`BY_CONTROL`'s separator and its stand-ins: the control characters that are not whitespace, then
two private-use characters, which only an explicit escape yields (`\\1` to `\\37` yield every
control character). The decoders treat each alike: none names one (`remove_nulls` takes only NUL),
none is whitespace, and NFKC and case mappings leave them be."""

MAX_SEPARATORS_TRIED = 4
"""Control separators tried on one group: a decoding that yields the separator (`\\1` escapes
decode to \\x01) makes the next try avoid every character that decoding produced."""

MIN_GROUP = 2
"""Smaller groups are examined text by text: joining gains nothing for one text."""

_CSS_HEX_BEFORE_NEWLINE = re.compile(r"\\[0-9A-Fa-f]{1,6}\n")
"""A CSS hexadecimal escape takes one following whitespace character: a newline separator too."""
_SPACES_BUT_NEWLINE = re.compile("[" + re.escape(OTHER_SPACES.replace("\n", "")) + "]")


_NOT_OTHER_ASCII_SPACES = bytes(
    byte for byte in range(256) if not (byte < 0x80 and byte != 0x0A and chr(byte) in OTHER_SPACES)
)
"""Every byte but ASCII whitespace other than a space or a newline, for `bytes.translate` to delete."""


def _spaced(text: str) -> bool:
    """Whether `compress_whitespace`'s trigger occurs within one text of a newline-joined group:
    two spaces, or whitespace other than a space or a newline. In ASCII text, that whitespace is
    what `bytes.translate` leaves (three times faster than a search on a 4 KB group); otherwise a
    set of characters is searched for, four times faster than with `|  ` in it. No character's
    lower case is whitespace unless it is whitespace itself, so the lower case needs no search (a
    test checks every one)."""
    if "  " in text:
        return True
    if text.isascii():
        return bool(text.encode("ascii").translate(None, _NOT_OTHER_ASCII_SPACES))
    return _SPACES_BUT_NEWLINE.search(text) is not None


def joinable_acting(acting: frozenset[str]) -> bool:
    """Whether texts with these acting decoders can be decoded joined at all."""
    return acting <= BY_NEWLINE.local or acting <= BY_CONTROL.local


class JoinedGroup:
    """A group of texts decoded joined: each text's candidates, the decoders their chains reduce to
    (`acting`, widened by any a decoding woke), and what each reduced chain made of each text, so
    that the regex stage need not decode the texts again one by one."""

    def __init__(self, decoded: _Joined, candidates: list[set[int]], reduced_to: frozenset[str]) -> None:
        self.decoded = decoded
        self.candidates = candidates
        self.reduced_to = reduced_to
        self._parts: dict[int, list[str]] = {}

    def subject(self, number: int, chain: tuple[str, ...]) -> str | None:
        """Text `number` as `chain` (already reduced) leaves it; None if that chain was not computed
        with the group (it always is: the reduced chains are the ones decoded)."""
        try:
            output = self.decoded.get(chain)
        except _Split:
            return None
        return self._split(output)[number]

    def subjects(self, chain: tuple[str, ...]) -> list[str] | None:
        """`subject` of every text, in order."""
        try:
            output = self.decoded.get(chain)
        except _Split:
            return None
        return self._split(output)

    def _split(self, output: str) -> list[str]:
        parts = self._parts.get(id(output))
        if parts is None:
            parts = self._parts[id(output)] = output.split(self.decoded.joining.separator)
        return parts


def group_candidates(
    rules: RuleSet, texts: list[str], acting: frozenset[str], allowance: Allowance | None = None
) -> JoinedGroup | None:
    """The group decoded joined (its texts all have `acting` as acting decoders); None when it must
    be examined text by text. A large group first learns on its first texts which separators fail
    (`_probe`). `allowance`: the record's screening time left."""
    if len(texts) < MIN_GROUP:
        return None
    newline, avoided = True, set[str]()
    if len(texts) >= PROBED_GROUP:
        newline, avoided = _probe(rules, texts[:PROBE_TEXTS], acting)
    if newline and acting <= BY_NEWLINE.local:
        found = _joined_candidates(rules, texts, acting, BY_NEWLINE, allowance)
        if isinstance(found, JoinedGroup):
            return found
        if isinstance(found, frozenset):
            avoided |= found
    if not acting <= BY_CONTROL.local:
        return None
    found = _by_control(texts, avoided, lambda joining: _joined_candidates(rules, texts, acting, joining, allowance))
    return None if isinstance(found, frozenset) else found


_Attempt = TypeVar("_Attempt")


def _by_control(
    texts: list[str], avoided: set[str], attempt: Callable[[Joining], _Attempt | frozenset[str]]
) -> _Attempt | frozenset[str]:
    """`attempt` with control separators in turn, each avoiding what `texts` hold and what earlier
    attempts' decodings yielded (added to `avoided`), until one gives something other than the
    characters a decoding yielded; the last of those when none did (or none was left to try)."""
    whole = "".join(texts)
    avoided |= {separator for separator in CONTROL_SEPARATORS if separator in whole}
    found: _Attempt | frozenset[str] = frozenset()
    for _ in range(MAX_SEPARATORS_TRIED):
        separator = next((ch for ch in CONTROL_SEPARATORS if ch not in avoided), None)
        if separator is None:
            break
        found = attempt(Joining(separator, BY_CONTROL.local))
        if not isinstance(found, frozenset):
            break
        avoided |= found
    return found


PROBED_GROUP = 2_000
"""Groups of this many texts or more try their separators on a sample first."""
PROBE_TEXTS = 400
"""The sample: the group's first texts (a flood's texts differ in a counter: the first of them
already hold what its decodings yield; texts taken at even steps through it did worse)."""


def _probe(rules: RuleSet, sample: list[str], acting: frozenset[str]) -> tuple[bool, set[str]]:
    """Whether the newline joins `sample`, and if not, the characters its decodings yielded with the
    newline and the control separators that failed on it. A separator that fails costs a decoding
    of the whole group (`\\1` to `\\37` yield every control character, `%%301` yields U+0001 in a
    second round): on 19,000 texts, 20-50 ms each. The whole group still checks the separator it
    takes, and tries the next one when a text beyond the sample needs it."""
    avoided: set[str] = set()
    if acting <= BY_NEWLINE.local:
        settled = _decoded_joined(rules, sample, acting, BY_NEWLINE)
        if isinstance(settled, tuple):
            return True, avoided
        if isinstance(settled, frozenset):
            avoided |= settled
    if acting <= BY_CONTROL.local:
        _by_control(sample, avoided, lambda joining: _decoded_joined(rules, sample, acting, joining))
    return False, avoided


def _joined_candidates(
    rules: RuleSet, texts: list[str], acting: frozenset[str], joining: Joining, allowance: Allowance | None
) -> JoinedGroup | frozenset[str] | None:
    """The group decoded joined by `joining` and its texts' candidates; when a decoding yielded its
    separator, the characters that decoding produced (another separator may do); None when the
    group cannot be joined."""
    settled = _decoded_joined(rules, texts, acting, joining)
    if not isinstance(settled, tuple):
        return settled
    decoded, reduced_to = settled
    chains = rules.projections(reduced_to)
    bound = screened(rules, decoded, chains, allowance, joining.separator)
    candidates = candidates_of_forms(rules, lambda: forms_of(decoded, chains), len(texts), joining.separator, bound)
    return JoinedGroup(decoded, candidates, reduced_to)


def _decoded_joined(
    rules: RuleSet, texts: list[str], acting: frozenset[str], joining: Joining
) -> tuple[_Joined, frozenset[str]] | frozenset[str] | None:
    """`texts` joined by `joining`, and the decoders their chains settle on (`settle`); or what
    `_joined_candidates` returns when that fails."""
    joined = joining.separator.join(texts)
    if joined.count(joining.separator) != len(texts) - 1:
        return None  # a text holds the separator
    decoded = _Joined(joined, len(texts) - 1, joining, acting)  # every text has `acting` as its triggers
    try:
        settled = settle(rules, decoded, acting)
    except _Split as split:
        return None if split.produced is None else frozenset(split.produced)
    if settled is None:
        return None
    return decoded, settled


MAX_WIDENINGS = 3
"""How often a set of acting decoders is widened by the decoders its decodings wake."""


def settle(rules: RuleSet, decoded: DecodedTexts, acting: frozenset[str]) -> frozenset[str] | None:
    """`acting`, widened until no text computed by the chains reduced to it wakes a decoder outside
    it (`%26lt%3B` decodes into an HTML entity: the HTML decoder joins). Then the reduced chains
    give what the full ones give: a decoder none of their texts wakes changes nothing. None when
    that does not settle in a few rounds, or the widened set cannot be decoded joined."""
    for _ in range(MAX_WIDENINGS + 1):
        if isinstance(decoded, _Joined) and not acting <= decoded.joining.local:
            return None
        for chain, _members in rules.projections(acting):
            decoded.get(chain)
        woken = decoded.woken(acting)
        if not woken:
            return acting
        acting = acting | woken
    return None


def forms_of(decoded: DecodedTexts, chains: Iterable[tuple[tuple[str, ...], frozenset[int]]]) -> list[Form]:
    """The distinct folded outputs of `chains`, each with the signatures of the chains giving it."""
    return [(low, frozenset(signatures)) for low, signatures in _distinct_outputs(chains, decoded.folded)]


def _distinct_outputs(
    chains: Iterable[tuple[tuple[str, ...], frozenset[int]]], output_of: Callable[[tuple[str, ...]], str]
) -> list[tuple[str, set[int]]]:
    """What `chains` give (equal outputs are one object, found by id), each with the signatures of
    the chains giving it."""
    members: dict[int, tuple[str, set[int]]] = {}
    for chain, signatures in chains:
        output = output_of(chain)
        entry = members.get(id(output))
        if entry is None:
            members[id(output)] = (output, set(signatures))
        else:
            entry[1].update(signatures)
    return list(members.values())


@functools.lru_cache(maxsize=32)
def _odd_backslashes_before(separator: str) -> re.Pattern[str]:
    """A run of an odd number of backslashes right before `separator`: alone, its text would end
    with a backslash escaping nothing (kept as it is), and its pairs would each decode to one."""
    return re.compile(r"(?<!\\)(?:\\\\)*\\(?=" + re.escape(separator) + ")")


class _Split(Exception):
    """A decoder added or removed a separator: the joined text no longer splits into its texts."""

    def __init__(self, name: str, produced: str | None = None) -> None:
        super().__init__(name)
        self.produced = produced
        """The decoding that yielded a separator, if that was the reason."""


class _Joined(DecodedTexts):
    """The chains' outputs on texts joined by a separator."""

    def __init__(self, joined: str, separators: int, joining: Joining, acting: frozenset[str]) -> None:
        super().__init__(joined, acting)
        self.joining = joining
        self._separators = separators

    def step(self, name: str, text: str) -> str:
        """One decoder on the joined text. Where it could take in a separator, it is kept from it
        (`_escapes`, `cmdline_normalize`'s `within`, `_each`) or the joining is refused; then no
        separator can vanish, and a decoding that yields one (`%0a`) shows as a higher count. A check
        of the count alone would miss one separator taken in while another is made (`\\41` +
        newline, then `\\a `)."""
        if name in _ESCAPES:
            output = self._escapes(name, text)
        elif name in _EACH_TEXT:
            output = self._each(TRANSFORMS[name].function, text)
        elif name == "cmdline_normalize":
            output = cmdline_normalize(text, self.joining.separator)  # no `${...:-}` spans two texts
        else:
            output = super().step(name, text)
        if output is not text and output.count(self.joining.separator) != self._separators:
            raise _Split(name, output)
        return output

    def _each(self, decoder: Callable[[str], str], text: str) -> str:
        """A decoder that works on a whole text (base64 appends to its end), on each text."""
        separator = self.joining.separator
        output = separator.join(map(decoder, text.split(separator)))
        return text if output == text else output

    def _escapes(self, name: str, text: str) -> str:
        """An escape decoder round by round, keeping a separator from being taken in. A text that
        ends with an odd run of backslashes (its last one escapes nothing) gets one more, so that
        the run decodes to what it gives alone and the separator stays; a separator after a CSS
        hexadecimal escape, which takes one whitespace character, is refused."""
        separator = self.joining.separator
        after_backslash = "\\" + separator
        one_round = js_decode_once if name == "js_decode" else css_decode
        for _ in range(MAX_ROUNDS if name == "js_decode" else 1):
            if name == "css_decode" and separator == "\n" and _CSS_HEX_BEFORE_NEWLINE.search(text):
                raise _Split(name)
            protected = _odd_backslashes_before(separator).sub(r"\g<0>\\", text) if after_backslash in text else text
            decoded = one_round(protected)
            if decoded == text:  # stable, as alone: the added backslashes decode away
                break
            text = decoded
        return text

    def triggers(self, text: str) -> frozenset[str]:
        """Every trigger lies within one text of a joined one (none matches a separator), but
        whitespace compression's, which is searched with newline separators left out, and Unicode
        normalisation's, which a private-use separator would wake: it is searched for as U+0001."""
        separator = self.joining.separator
        names = acting_decoders(text if separator.isascii() else text.replace(separator, "\x01"))
        if separator == "\n" and "compress_whitespace" in names and not _spaced(text):
            return names - {"compress_whitespace"}
        return names


HIT_END = itemgetter(0)
"""Where an automaton hit ends (its last character)."""

SHORT_TEXT = 1024
"""A text up to this long has its forms' literals taken together; a longer one, form by form."""


Form = tuple[str, frozenset[int]]
"""A folded decoded text (or texts joined by newlines) and the signatures whose chains give it."""


def candidates_of_forms(
    rules: RuleSet,
    forms_of_texts: Callable[[], list[Form]],
    count: int,
    separator: str = "\n",
    bound: Bound | None = None,
) -> list[set[int]]:
    """Per text, the signatures whose literal groups one of its forms holds, among those the form
    is for (and within `bound`, what the screen left in play in that text, when given). The forms
    (`forms_of_texts()`, only worked out where the screen leaves some signature in play: folding
    is wasted on the most of benign text it rules out) hold `count` texts joined by `separator`
    (a single text is taken whole). A short text's forms
    are taken together: one evaluation per text instead of one per form, at the price of a
    candidate whose literals come from two forms (its regex then decides). A long text's forms
    are kept apart: there a needless candidate costs a long regex search."""
    if bound is not None and not bound.signatures:
        return [set() for _ in range(count)]
    always = rules.always if bound is None else rules.always & bound.signatures
    if bound is None or bound.live is None:
        found = [set(always) for _ in range(count)]
    else:
        found = [set(always) if bound.holds(number) else set() for number in range(count)]
    if rules.automaton is None:
        return found
    forms = forms_of_texts()
    if count == 1:
        own = _one_text_candidates(rules, forms)
        found[0] |= own if bound is None else own & bound.signatures
        return found
    return _joined_candidates_of_forms(rules, forms, found, separator, bound)


def screened(
    rules: RuleSet,
    decoded: DecodedTexts,
    chains: Iterable[tuple[tuple[str, ...], frozenset[int]]],
    allowance: Allowance | None,
    separator: str | None = None,
) -> Bound | None:
    """What `rules.screen` leaves in play on what `chains` make of `decoded` (texts joined by
    `separator`, if any), each output screened once for the signatures of every chain giving it;
    None when it cannot tell."""
    if rules.screen is None or (allowance is not None and allowance.left <= 0):
        return None
    outputs = _distinct_outputs(chains, decoded.get)
    return rules.screen.bound(outputs, separator, Allowance() if allowance is None else allowance)


def _one_text_candidates(rules: RuleSet, forms: list[Form]) -> set[int]:
    """`candidates_of_forms` of one text, `always` left out."""
    hits = [set(map(LITERAL_ID, rules.automaton.iter(low))) for low, _members in forms]
    if len(forms[0][0]) < SHORT_TEXT:  # short as in a joined group, where its span takes a separator
        ids = set().union(*hits)
        return rules.satisfied(ids, "\n".join(dict.fromkeys(low for low, _members in forms))) if ids else set()
    found: set[int] = set()
    for (low, members), ids in zip(forms, hits, strict=True):
        if ids:
            found |= rules.satisfied(ids, low) & members
    return found


SPARSE_HITS = 16
"""Characters per anchor hit above which hits are mapped to their texts straight away. Denser hits are
first bounded by the signatures all texts together hold, to leave out the hits of every other
signature (a flood of `<0042` holds `<` but nothing else an XSS signature needs); on sparse ones that
pass over every form would cost more than it saves."""


def _joined_candidates_of_forms(
    rules: RuleSet, forms: list[Form], found: list[set[int]], separator: str, screened: Bound | None
) -> list[set[int]]:
    """`candidates_of_forms` for several texts. The forms mostly repeat one another text by text
    (eight chains leave most of 19,000 `%%0042` as they are): every text of the first form, and each
    later form's texts where they differ from it, are scanned once, joined by a character no anchor
    holds, and each hit is mapped back to its text. Where hits are dense, the signatures each form
    holds taken whole, among those the form is for, bound what any one text can hold (`_bound`):
    only hits of anchors owned by one of them are mapped. Texts with the same anchors share their
    evaluation, and need no look at their text when the anchors establish their signatures
    (`RuleSet.split`): a flood of `<0042` costs a lookup per text. What the screen left in play,
    when given, is the bound instead; where it leaves only some texts in play, only those are
    scanned."""
    owners = rules.anchor_owners
    every_form = [low.split(separator) for low, _members in forms]
    if screened is not None and screened.live is not None:
        in_play = [number for number, held in enumerate(screened.live) if held]
        if len(in_play) * 2 < len(found):
            return _live_candidates(rules, forms, every_form, found, separator, screened.signatures, in_play)
    entries, numbers, firsts = _variants(every_form)
    scanned = rules.unseen.join(entries)
    hits = list(rules.automaton.iter(scanned))
    found_anywhere = set(map(LITERAL_ID, hits))
    bound: set[int] | frozenset[int]
    universal: set[int] = set()
    sparse = len(hits) * SPARSE_HITS < len(scanned)
    if screened is not None:
        bound = screened.signatures
        live = {literal_id for literal_id in found_anywhere if not owners[literal_id].isdisjoint(bound)}
    elif sparse:
        bound = rules.every  # sparse hits: mapping them costs less than bounding them
        live = found_anywhere
    else:
        bound = _bound(rules, forms, hits, firsts, entries)
        if not bound:
            return found
        live = {literal_id for literal_id in found_anywhere if not owners[literal_id].isdisjoint(bound)}
    if not sparse:
        universal = _in_every_text(rules, every_form, hits, live)
    merged: dict[int, set[int]] = {}
    _live_hits_by_text(hits, live - universal if universal else live, _starts(entries), numbers, merged)
    if universal:
        for number in range(len(found)):
            ids = merged.get(number)
            if ids is None:
                merged[number] = set(universal)
            else:
                ids |= universal
    by_anchors: dict[frozenset[int], tuple[set[int], set[int]]] = {}
    shared: dict[frozenset[int], int] = {}
    first = every_form[0]
    for number, ids in merged.items():
        if screened is not None and not screened.holds(number):
            continue  # no piece holding this text matched
        if len(first[number]) >= SHORT_TEXT:
            own = [(texts[number], members) for texts, (_low, members) in zip(every_form, forms, strict=True)]
            found[number] |= _one_text_candidates(rules, own) & bound
            continue
        key = frozenset(ids)
        split = by_anchors.get(key)
        if split is None:
            sure, unsure = rules.split(key)
            split = by_anchors[key] = (sure & bound, unsure & bound)
        elif split[1]:
            sharing = shared[key] = shared.get(key, 1) + 1
            if sharing == SHARED_BY:  # a flood's texts: look once for literals every text holds
                held = _held_by_every_text(rules, split[1], every_form)
                split = by_anchors[key] = (split[0] | held, split[1] - held)
        found[number] |= split[0]
        if split[1]:
            found[number] |= rules.held(split[1], _in_every_form(every_form, number))
    return found


def _live_candidates(
    rules: RuleSet,
    forms: list[Form],
    every_form: list[list[str]],
    found: list[set[int]],
    separator: str,
    signatures: set[int],
    live: list[int],
) -> list[set[int]]:
    """`_joined_candidates_of_forms` for the texts numbered `live` alone, joined anew (the others
    keep the empty candidates they have): a flood whose every text holds a literal, and whose
    few texts that decode into more are all the screen left in play."""
    own_forms = [
        (separator.join([texts[number] for number in live]), members)
        for texts, (_low, members) in zip(every_form, forms, strict=True)
    ]
    if len(live) == 1:
        found[live[0]] |= _one_text_candidates(rules, own_forms) & signatures
    elif live:
        own = [found[number] for number in live]
        _joined_candidates_of_forms(rules, own_forms, own, separator, Bound(signatures, None))  # fills `own`
    return found


SHARED_BY = 32
"""Texts sharing their anchors (and signatures left to confirm) from which those signatures are
first looked for in every text at once (`_held_by_every_text`): few benign texts share so much."""


def _held_by_every_text(rules: RuleSet, indices: set[int], every_form: list[list[str]]) -> set[int]:
    """The signatures among `indices` each of whose literal groups has a literal that every text of
    some form holds: every text then holds it too (as its forms have it), and need not be looked at.
    A flood of `..%2f0042` holds `../` in every text of its decoded form; without this each of its
    19,000 texts is searched for it. A literal missing from a text stops its test there, so most
    literals cost a test or two."""
    held: set[int] = set()
    for index in indices:
        groups = rules.signatures[index].literals or ()
        if all(any(_in_every_text_of_a_form(every_form, literal) for literal in group) for group in groups):
            held.add(index)
    return held


def _in_every_text_of_a_form(every_form: list[list[str]], literal: str) -> bool:
    """Whether every text of some form holds `literal` (a text without it stops that form's test)."""
    return any(all(map(contains, texts, repeat(literal))) for texts in every_form)


def _variants(every_form: list[list[str]]) -> tuple[list[str], list[int], list[int]]:
    """Every text of the first form, then each text of a later form that differs from the first
    form's (compared in C, text by text); the number of the text each one is a form of; and where
    each form's entries begin, and past the last the number of entries."""
    first = every_form[0]
    everyone = range(len(first))
    entries = list(first)
    numbers = list(everyone)
    firsts = [0]
    for texts in every_form[1:]:
        firsts.append(len(entries))
        changed = list(compress(everyone, map(ne, texts, first)))
        entries += texts if len(changed) == len(first) else map(texts.__getitem__, changed)
        numbers += changed
    firsts.append(len(entries))
    return entries, numbers, firsts


def _bound(
    rules: RuleSet, forms: list[Form], hits: list[tuple[int, int]], firsts: list[int], entries: list[str]
) -> set[int]:
    """The signatures some form holds, taken whole, among those it is for: what any one text can
    hold. A form's anchors are the hits in its own entries (`firsts`: `_variants`). The forms that
    changed only some texts are taken together with the first: its texts and their changed ones,
    with the anchors and signatures of them all (a superset of each one's: what sets them apart is
    a few texts). Eight forms of a flood of `%%0042` cost one pass, not eight."""
    count = firsts[1]
    limits = [0]  # where each form's entries begin in the scanned text, then its length plus one
    for begin, end in pairwise(firsts):
        limits.append(limits[-1] + sum(map(len, entries[begin:end])) + end - begin)

    def anchors(number: int) -> set[int]:
        return set(map(LITERAL_ID, hits[_hits_before(hits, limits[number]) : _hits_before(hits, limits[number + 1])]))

    partial = [number for number in range(1, len(forms)) if firsts[number + 1] - firsts[number] < count]
    ids = anchors(0).union(*map(anchors, partial))
    members = forms[0][1].union(*(forms[number][1] for number in partial))
    changed = (entry for number in partial for entry in entries[firsts[number] : firsts[number + 1]])
    text = "\n".join([forms[0][0], *changed])
    bound = rules.satisfied(ids, text) & members if ids else set()
    for number in range(1, len(forms)):
        if number not in partial:
            ids = anchors(number)
            if ids:
                bound |= rules.satisfied(ids, forms[number][0]) & forms[number][1]
    return bound


def _hits_before(hits: list[tuple[int, int]], position: int) -> int:
    """How many of `hits` (ordered by end) end before `position`."""
    return bisect_left(hits, position, key=HIT_END)


def _starts(texts: list[str]) -> list[int]:
    """Where each of `texts` starts once they are joined by a separator, and past the last one's end
    the joined length plus one."""
    return list(accumulate(map((1).__add__, map(len, texts)), initial=0))


def _in_every_form(every_form: list[list[str]], number: int) -> str:
    """Text `number` as each form has it, the distinct ones joined by newlines."""
    if len(every_form) == 1:
        return every_form[0][number]
    return "\n".join(dict.fromkeys(texts[number] for texts in every_form))


def _in_every_text(
    rules: RuleSet, every_form: list[list[str]], hits: list[tuple[int, int]], live: set[int]
) -> set[int]:
    """The `live` anchors found in each text of some form: a flood holds the same anchor in every
    text, and its hundreds of thousands of hits need no mapping one by one."""
    count = len(every_form[0])
    return {
        literal_id
        for literal_id, hit_count in Counter(map(LITERAL_ID, hits)).items()
        if hit_count >= count
        and literal_id in live
        and _in_every_text_of_a_form(every_form, rules.anchor_literals[literal_id])
    }


def _live_hits_by_text(
    hits: list[tuple[int, int]], live: set[int], starts: list[int], numbers: list[int], found: dict[int, set[int]]
) -> None:
    """Adds the `live` anchor ids among `hits` (scanned with separators no anchor holds) to `found`,
    per text: the hit's entry, at `starts`, is a form of text `numbers[entry]`."""
    for end, literal_id in hits:
        if literal_id in live:
            number = numbers[bisect_right(starts, end) - 1]
            ids = found.get(number)
            if ids is None:
                found[number] = {literal_id}
            else:
                ids.add(literal_id)
