"""Signatures -> a `RuleSet` ready for matching: compiled regexes, transform chains and one
literal automaton for every signature's fast pattern."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from operator import itemgetter
from typing import Any, Protocol

import ahocorasick
import regex

from .boundaries import joined_form
from .branches import Branches, top_level_branches
from .literals import derive_requirements
from .model import PARANOIA_LEVELS, Signature
from .screen import Screen

_LIST_INDEX = re.compile(r"\[\d+\]")
MANY_PATHS = 64
"""`RuleSet.untargeted` reads the list positions of more paths than this as `[0]` in one pass over
their join: 19,000 paths of one list's items, each read alone, cost 35 ms."""

AUTOMATON_LITERAL_LENGTH = 2
"""Groups whose literals are all this long go in the automaton; groups with single characters are
checked on the candidates afterwards."""
LITERAL_ID = itemgetter(1)
"""The literal id of an automaton hit (end, id)."""


class Searcher(Protocol):
    def search(self, text: str, pos: int = ..., *, timeout: float | None = ...) -> regex.Match[str] | None: ...


def _searcher(pattern: regex.Pattern[str]) -> Searcher:
    pieces = top_level_branches(pattern.pattern)
    return pattern if pieces is None else Branches(pattern, pieces)


class CompiledSignature:
    """A signature ready for matching. Its regex is compiled on first use: the prefilter keeps most
    signatures from ever running in a given process, and compiling costs milliseconds each."""

    def __init__(
        self, signature: Signature, chain: tuple[str, ...], literals: tuple[frozenset[str], ...] | None, index: int
    ):
        self.signature = signature
        self.chain = chain
        self.literals = literals
        """Groups of literals: a text is a candidate when it holds one literal of every group.
        None: no fast pattern, the regex runs on every field the signature targets."""
        self.index = index
        self._pattern: regex.Pattern[str] | None = None
        self._joinable: bool | None = None
        self._joined_form: str | None = None
        self._joined_pattern: regex.Pattern[str] | None = None
        self._searcher: Searcher | None = None
        self._joined_searcher: Searcher | None = None

    @property
    def pattern(self) -> regex.Pattern[str]:
        if self._pattern is None:
            self._pattern = regex.compile(self.signature.pattern)
        return self._pattern

    @property
    def searcher(self) -> Searcher:
        """The pattern, searched branch by branch on long texts where it has several (`branches`)."""
        if self._searcher is None:
            self._searcher = _searcher(self.pattern)
        return self._searcher

    @property
    def joined_searcher(self) -> Searcher:
        """`joined_pattern`, likewise."""
        if self._joined_searcher is None:
            self._joined_searcher = _searcher(self.joined_pattern)
        return self._joined_searcher

    @property
    def joinable(self) -> bool:
        """Whether many fields joined by newlines may be searched at once (`boundaries.joined_form`)."""
        if self._joinable is None:
            self._joined_form = joined_form(self.signature.pattern)
            self._joinable = self._joined_form is not None
        return self._joinable

    @property
    def joined_pattern(self) -> regex.Pattern[str]:
        """The pattern for joined fields (`boundaries.joined_form`): MULTILINE, so `^` and `$` hold
        at each field's edges. What it finds is a hint, which the pattern confirms on the field."""
        if self._joined_pattern is None:
            if not self.joinable or self._joined_form is None:
                raise ValueError(f"{self.signature.id}: the pattern cannot search joined fields")
            self._joined_pattern = regex.compile(self._joined_form, regex.MULTILINE)
        return self._joined_pattern


@dataclass(frozen=True)
class RuleSet:
    """Everything the matcher needs, built once per process (at cold start)."""

    signatures: tuple[CompiledSignature, ...]
    paranoia: int
    version: str
    """A hash of every signature's definition: changes whenever any rule changes."""
    automaton: Any
    """Holds every signature's anchor: its group least likely in benign text (the "fast pattern"),
    so that a scan over benign text stops rarely."""
    anchor_owners: tuple[frozenset[int], ...]
    """For each literal id of `automaton`, the signatures whose anchor holds it."""
    anchor_literals: tuple[str, ...]
    """For each literal id of `automaton`, the literal."""
    unseen: str
    """A character in no anchor: texts joined by it and scanned give only hits within one text."""
    confirmer: Any
    """Holds the literals of the other groups of 2+ characters, scanned only on texts where some
    anchor was found (common words such as `or` and `select` would stop a scan of everything)."""
    other_groups: tuple[tuple[frozenset[int], ...], ...]
    """Per signature, its other groups as sets of literal ids of `confirmer`: each must be met."""
    weak: tuple[tuple[tuple[frozenset[str], tuple[str, ...]], ...], ...]
    """Per signature, its groups holding single characters, as (characters, longer literals):
    tested on the few texts that pass the automaton, against the set of their characters."""
    anchored_only: frozenset[int]
    """Signatures whose anchor is their only group: found as soon as one of its literals is."""
    implied: tuple[tuple[frozenset[int], ...], ...]
    """Per signature, for each group but its anchor, the anchor literals (ids of `automaton`) that
    hold one of its literals: where such an anchor was found, the group is held too."""
    always: frozenset[int]
    every: frozenset[int]
    """Every active signature."""
    targeted: frozenset[int]
    chain_members: dict[tuple[str, ...], frozenset[int]]
    screen: Screen | None = None
    """Every signature's relaxed patterns in RE2 sets: which may match a text at all."""
    index_blind_targets: bool = False
    """No target glob can tell list positions apart (`_index_sensitive`)."""
    _target_cache: dict[str, frozenset[int]] = field(default_factory=dict, compare=False, repr=False)
    _path_cache: dict[str, frozenset[int]] = field(default_factory=dict, compare=False, repr=False)
    """`excluded_at` by path as given, before list positions are looked up as `[0]`."""
    _projection_cache: dict[frozenset[str], tuple[tuple[tuple[str, ...], frozenset[int]], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _reduction_cache: dict[tuple[tuple[str, ...], frozenset[str]], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def projections(self, acting: frozenset[str]) -> tuple[tuple[tuple[str, ...], frozenset[int]], ...]:
        """The chains as they work on a text only `acting` decoders change: each reduced to those
        decoders and lower case, and chains that reduce alike merged, with their signatures."""
        cached = self._projection_cache.get(acting)
        if cached is None:
            merged: dict[tuple[str, ...], set[int]] = {}
            for chain, members in self.chain_members.items():
                merged.setdefault(self.reduced(chain, acting), set()).update(members)
            cached = tuple((key, frozenset(members)) for key, members in merged.items())
            if len(self._projection_cache) > 1024:
                self._projection_cache.clear()
            self._projection_cache[acting] = cached
        return cached

    def reduced(self, chain: tuple[str, ...], acting: frozenset[str]) -> tuple[str, ...]:
        """`chain` as it works on a text only `acting` decoders change: those and lower case."""
        key = (chain, acting)
        cached = self._reduction_cache.get(key)
        if cached is None:
            cached = tuple(name for name in chain if name in acting or name == "lowercase")
            if len(self._reduction_cache) > 4096:
                self._reduction_cache.clear()
            self._reduction_cache[key] = cached
        return cached

    def excluded_at(self, path: str) -> frozenset[int]:
        """Signatures with explicit targets that do not cover `path`. Where no target glob can tell
        list positions apart, `items[7].x` is looked up as `items[0].x`: a list of 20,000 items
        costs one glob test, not 20,000."""
        cached = self._path_cache.get(path)
        if cached is not None:
            return cached
        given = path
        if self.index_blind_targets and "[" in path:
            path = _LIST_INDEX.sub("[0]", path)
        cached = self._target_cache.get(path)
        if cached is None:
            cached = frozenset(
                i
                for i in self.targeted
                if not any(fnmatchcase(path, glob) for glob in self.signatures[i].signature.targets)
            )
            if len(self._target_cache) > 4096:
                self._target_cache.clear()
            self._target_cache[path] = cached
        if len(self._path_cache) > 4096:
            self._path_cache.clear()
        self._path_cache[given] = cached
        return cached

    def untargeted(self, paths: Iterable[str]) -> frozenset[int]:
        """Signatures whose targets cover none of `paths` (FW-LFI-009, on S3 keys, in a batch of SQS
        messages): no field at those paths can be a hit of theirs."""
        if not self.targeted:
            return frozenset()
        distinct = paths if isinstance(paths, (set, frozenset)) else set(paths)
        if self.index_blind_targets and len(distinct) > MANY_PATHS:
            joined = "\n".join(distinct)
            if joined.count("\n") == len(distinct) - 1:  # no path holds a newline
                distinct = set(_LIST_INDEX.sub("[0]", joined).split("\n"))
        left = self.targeted
        for path in distinct:
            left = left & self.excluded_at(path)
            if not left:
                break
        return left

    def literal_hits(self, lowered: str) -> set[int]:
        """Signatures all of whose literal groups occur in `lowered` (folded text)."""
        if self.automaton is None:
            return set()
        return self.satisfied(set(map(LITERAL_ID, self.automaton.iter(lowered))), lowered)

    def satisfied(self, literal_ids: set[int] | frozenset[int], lowered: str) -> set[int]:
        """Signatures with an anchor among the found `literal_ids` whose other groups `lowered` (folded
        text, where the anchors were found) also holds."""
        sure, unsure = self.split(literal_ids)
        return sure | self.held(unsure, lowered) if unsure else sure

    def split(self, literal_ids: set[int] | frozenset[int]) -> tuple[set[int], set[int]]:
        """The signatures whose anchor is among the found `literal_ids`: those the anchors found
        establish (no other group, or each implied by a found anchor), and the others, whose
        other groups the text must be searched for."""
        touched: set[int] = set()
        anchor_owners = self.anchor_owners
        for literal_id in literal_ids:
            owners = anchor_owners[literal_id]
            if owners:
                touched |= owners
        sure = touched & self.anchored_only
        if len(sure) == len(touched):
            return sure, set()
        unsure: set[int] = set()
        implied = self.implied
        for index in touched - sure:
            for group in implied[index]:
                if group.isdisjoint(literal_ids):
                    unsure.add(index)
                    break
            else:
                sure.add(index)
        return sure, unsure

    def held(self, indices: Iterable[int], lowered: str) -> set[int]:
        """The signatures among `indices` (their anchor found) whose other groups `lowered` holds."""
        other_groups, weak = self.other_groups, self.weak
        characters: set[str] | None = None
        confirmed: set[int] | None = None
        result: set[int] = set()
        for index in indices:
            if other_groups[index] and confirmed is None:
                confirmed = set(map(LITERAL_ID, self.confirmer.iter(lowered)))
            for group in other_groups[index]:
                if confirmed is None or confirmed.isdisjoint(group):
                    break
            else:
                if weak[index]:
                    if characters is None:
                        characters = set(lowered)
                    if not _weak_held(weak[index], characters, lowered):
                        continue
                result.add(index)
        return result


def _weak_held(groups: tuple[tuple[frozenset[str], tuple[str, ...]], ...], characters: set[str], lowered: str) -> bool:
    """Whether `lowered` holds one character or longer literal of every weak group."""
    for single, longer in groups:
        if characters.isdisjoint(single):
            for literal in longer:
                if literal in lowered:
                    break
            else:
                return False
    return True


Groups = tuple[frozenset[str], ...]


def requirements(sig: Signature, known: Mapping[str, list[list[str]] | None] | None = None) -> Groups | None:
    """The declared prefilter groups and the groups derived from the pattern, all required."""
    if known is not None and sig.pattern in known:
        cached = known[sig.pattern]
        derived: Groups | None = None if cached is None else tuple(frozenset(g) for g in cached)
    else:
        derived = derive_requirements(sig.pattern)
    groups = tuple(frozenset(group) for group in sig.prefilter) + (derived or ())
    return groups or None


_LETTER_FREQUENCY = dict(
    zip(
        "etaoinsrhldcumfpgwybvkxjqz",
        (0.10, 0.07, 0.065, 0.06, 0.055, 0.055, 0.05, 0.05, 0.04, 0.035, 0.03, 0.025, 0.022, 0.02, 0.018,
         0.016, 0.016, 0.015, 0.015, 0.012, 0.008, 0.006, 0.0015, 0.0012, 0.001, 0.0008),
        strict=True,
    )
)
_SYMBOL_FREQUENCY = {
    " ": 0.15, "\n": 0.002, "\t": 0.0005, ".": 0.008, ",": 0.008, "-": 0.004, "/": 0.004, ":": 0.003,
    "_": 0.002, "'": 0.006, '"': 0.003, "(": 0.0008, ")": 0.0008, "@": 0.0005, "&": 0.0005, "=": 0.001,
    "?": 0.0005, "!": 0.0005, "#": 0.0003, "%": 0.0003, "+": 0.0003, ";": 0.0003, "*": 0.0002, "$": 0.0002,
    "[": 0.0002, "]": 0.0002, "<": 0.0001, ">": 0.0001, "{": 0.0001, "}": 0.0001, "|": 0.0001, "\\": 0.0001,
}
_CHARACTER_FREQUENCY = {**_LETTER_FREQUENCY, **{str(d): 0.004 for d in range(10)}, **_SYMBOL_FREQUENCY}
"""Rough share of each character in folded benign text (prose, JSON values, URLs): enough to tell
that `$` or `<` is rarer than `or`, which is all the anchor choice needs."""


def _frequency(group: frozenset[str]) -> float:
    """How often some literal of `group` occurs in benign text, estimated from character shares as if
    characters were independent (longer literals are rarer)."""
    total = 0.0
    for literal in group:
        share = 1.0
        for character in literal:
            share *= _CHARACTER_FREQUENCY.get(character, 0.0005 if ord(character) > 0x7F else 0.00005)
        total += share
    return total


def _index_sensitive(glob: str) -> bool:
    """Whether `glob` could tell `[7]` from `[0]` in a path: a `?` or a set, or a run of digits between
    wildcards (a run with a letter or a dot cannot sit inside `[...]`, which only `*` can cover)."""
    return any(char in glob for char in "?[]") or any(run.isdigit() for run in glob.split("*"))


def _implied(
    groups: list[list[frozenset[str]]], literal_ids: Mapping[str, int]
) -> tuple[tuple[frozenset[int], ...], ...]:
    """For each signature's groups, the anchor literals equal to one of a group's literals or holding
    one of its single characters (`RuleSet.implied`)."""
    holding: defaultdict[str, set[int]] = defaultdict(set)
    for literal, literal_id in literal_ids.items():
        for character in literal:
            holding[character].add(literal_id)

    def anchors_holding(group: frozenset[str]) -> frozenset[int]:
        found: set[int] = set()
        for literal in group:
            if len(literal) == 1:
                found |= holding.get(literal, set())
            elif literal in literal_ids:
                found.add(literal_ids[literal])
        return frozenset(found)

    return tuple(tuple(anchors_holding(group) for group in signature_groups) for signature_groups in groups)


def _unseen(literals: Iterable[str]) -> str:
    """The first control character (then private-use one) that no literal holds."""
    held = set("".join(literals))
    return next(c for c in itertools.chain(map(chr, range(1, 32)), map(chr, range(0xE000, 0xF900))) if c not in held)


def _automaton(literal_ids: Mapping[str, int]) -> Any:
    """An Aho-Corasick automaton reporting each literal's id; None when there is no literal."""
    if not literal_ids:
        return None
    automaton = ahocorasick.Automaton()
    for literal, literal_id in literal_ids.items():
        automaton.add_word(literal, literal_id)
    automaton.make_automaton()
    return automaton


def _screen(compiled: list[CompiledSignature], known: Mapping[str, tuple[str, str] | None] | None) -> Screen:
    """The screen, its sets parting signatures run on lower-cased text from those run on text as it
    is (plain text is screened in both forms), and ordered by chain within each part."""
    ordered = sorted(compiled, key=lambda c: ("lowercase" in c.chain, c.chain, c.index))
    return Screen(((c.index, c.signature.pattern, "lowercase" in c.chain) for c in ordered), known)


def signature_set_version(signatures: Iterable[Signature]) -> str:
    digest = hashlib.sha256()
    for sig in sorted(signatures, key=lambda s: s.id):
        digest.update(
            json.dumps(
                [sig.id, sig.severity.value, sig.paranoia, sig.targets, sig.transforms, sig.pattern, sig.prefilter],
                sort_keys=True,
            ).encode()
        )
    return digest.hexdigest()[:16]


def compile_signatures(
    signatures: Iterable[Signature],
    paranoia: int = 1,
    *,
    known_literals: Mapping[str, list[list[str]] | None] | None = None,
    known_relaxed: Mapping[str, tuple[str, str] | None] | None = None,
    screen: bool = True,
) -> RuleSet:
    """Keep the signatures at or below `paranoia` and prepare them for matching.

    `known_literals` maps patterns to the groups an earlier derivation found (None: unparsable),
    `known_relaxed` to their relaxed forms for the screen (None: not relaxable).
    `screen=False` leaves out the RE2 screen: the literal prefilter alone picks the candidates."""
    if isinstance(paranoia, bool) or paranoia not in PARANOIA_LEVELS:
        raise ValueError(f"paranoia must be one of {PARANOIA_LEVELS}, got {paranoia!r}")
    all_signatures = tuple(signatures)
    active = [s for s in all_signatures if s.paranoia <= paranoia]
    compiled: list[CompiledSignature] = []
    literal_ids: dict[str, int] = {}
    confirm_ids: dict[str, int] = {}
    anchors: defaultdict[int, set[int]] = defaultdict(set)
    chains: defaultdict[tuple[str, ...], set[int]] = defaultdict(set)
    others: list[tuple[frozenset[int], ...]] = []
    rest: list[list[frozenset[str]]] = []
    weak: list[tuple[tuple[frozenset[str], tuple[str, ...]], ...]] = []
    for index, sig in enumerate(active):
        groups = requirements(sig, known_literals)
        compiled.append(CompiledSignature(sig, sig.transforms, groups, index))
        chains[sig.transforms].add(index)
        ranked = sorted(groups or (), key=_frequency)
        for literal in ranked[0] if ranked else ():
            anchors[literal_ids.setdefault(literal, len(literal_ids))].add(index)
        rest.append(ranked[1:])
        strong = [g for g in ranked[1:] if min(map(len, g)) >= AUTOMATON_LITERAL_LENGTH]
        others.append(
            tuple(frozenset(confirm_ids.setdefault(literal, len(confirm_ids)) for literal in g) for g in strong)
        )
        weak.append(
            tuple(
                (frozenset(x for x in g if len(x) == 1), tuple(x for x in g if len(x) > 1))
                for g in ranked[1:]
                if g not in strong
            )
        )
    targeted = frozenset(c.index for c in compiled if not c.signature.applies_everywhere)
    return RuleSet(
        signatures=tuple(compiled),
        paranoia=paranoia,
        version=signature_set_version(all_signatures),
        automaton=_automaton(literal_ids),
        confirmer=_automaton(confirm_ids),
        anchor_owners=tuple(frozenset(anchors[i]) for i in range(len(literal_ids))),
        anchor_literals=tuple(sorted(literal_ids, key=literal_ids.__getitem__)),
        unseen=_unseen(literal_ids),
        other_groups=tuple(others),
        weak=tuple(weak),
        anchored_only=frozenset(i for i in range(len(compiled)) if not others[i] and not weak[i]),
        implied=_implied(rest, literal_ids),
        always=frozenset(c.index for c in compiled if c.literals is None),
        every=frozenset(range(len(compiled))),
        targeted=targeted,
        chain_members={chain: frozenset(members) for chain, members in chains.items()},
        screen=_screen(compiled, known_relaxed) if screen else None,
        index_blind_targets=not any(
            _index_sensitive(glob) for c in compiled if c.index in targeted for glob in c.signature.targets
        ),
    )
