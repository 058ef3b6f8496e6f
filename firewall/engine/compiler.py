"""Signatures -> a `RuleSet` ready for matching: compiled regexes, transform chains and one
literal automaton for every signature's fast pattern."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import ahocorasick
import regex

from .literals import derive_requirements
from .model import PARANOIA_LEVELS, Signature

AUTOMATON_LITERAL_LENGTH = 2
"""Groups whose literals are all this long go in the automaton; groups with single characters are
checked on the candidates afterwards."""


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

    @property
    def pattern(self) -> regex.Pattern[str]:
        if self._pattern is None:
            self._pattern = regex.compile(self.signature.pattern)
        return self._pattern


@dataclass(frozen=True)
class RuleSet:
    """Everything the matcher needs, built once per process (at cold start)."""

    signatures: tuple[CompiledSignature, ...]
    paranoia: int
    version: str
    """A hash of every signature's definition: changes whenever any rule changes."""
    automaton: Any
    """Holds the strong groups (every literal 3+ characters; at least each signature's strongest
    group): single characters (a quote, `=`) would stop the automaton every few characters."""
    literal_owners: tuple[tuple[tuple[int, int], ...], ...]
    """For each literal id in the automaton, the (signature, group bit) pairs it satisfies."""
    complete: tuple[int, ...]
    """Per signature, the bit mask of its automaton groups: all must be satisfied."""
    weak: tuple[tuple[tuple[frozenset[str], tuple[str, ...]], ...], ...]
    """Per signature, its groups holding single characters, as (characters, longer literals):
    tested on the few texts that pass the automaton, against the set of their characters."""
    always: frozenset[int]
    targeted: frozenset[int]
    chain_members: dict[tuple[str, ...], frozenset[int]]
    _target_cache: dict[str, frozenset[int]] = field(default_factory=dict, compare=False, repr=False)
    _projection_cache: dict[frozenset[str], tuple[tuple[tuple[str, ...], frozenset[int]], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def projections(self, acting: frozenset[str]) -> tuple[tuple[tuple[str, ...], frozenset[int]], ...]:
        """The chains as they work on a text only `acting` decoders change: each reduced to those
        decoders and lower case, and chains that reduce alike merged, with their signatures."""
        cached = self._projection_cache.get(acting)
        if cached is None:
            merged: dict[tuple[str, ...], set[int]] = {}
            for chain, members in self.chain_members.items():
                key = tuple(name for name in chain if name in acting or name == "lowercase")
                merged.setdefault(key, set()).update(members)
            cached = tuple((key, frozenset(members)) for key, members in merged.items())
            if len(self._projection_cache) > 1024:
                self._projection_cache.clear()
            self._projection_cache[acting] = cached
        return cached

    def excluded_at(self, path: str) -> frozenset[int]:
        """Signatures with explicit targets that do not cover `path`."""
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
        return cached

    def literal_hits(self, lowered: str) -> set[int]:
        """Signatures all of whose literal groups occur in `lowered` (folded text)."""
        if self.automaton is None:
            return set()
        return self.satisfied({literal_id for _end, literal_id in self.automaton.iter(lowered)}, lowered)

    def satisfied(self, literal_ids: Iterable[int], lowered: str) -> set[int]:
        """Signatures whose automaton groups the found literals all satisfy and whose single-character
        groups `lowered` also holds."""
        masks: dict[int, int] = {}
        for literal_id in literal_ids:
            for index, bit in self.literal_owners[literal_id]:
                masks[index] = masks.get(index, 0) | bit
        complete, weak = self.complete, self.weak
        characters: set[str] | None = None
        result = set()
        for index, mask in masks.items():
            if mask != complete[index]:
                continue
            if weak[index]:
                if characters is None:
                    characters = set(lowered)
                if any(
                    characters.isdisjoint(single) and not any(literal in lowered for literal in longer)
                    for single, longer in weak[index]
                ):
                    continue
            result.add(index)
        return result


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


def _strength(group: frozenset[str]) -> tuple[int, int]:
    """Longer shortest literal first, then fewer alternatives: what makes a selective prefilter."""
    return (min(len(literal) for literal in group), -len(group))


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
) -> RuleSet:
    """Keep the signatures at or below `paranoia` and prepare them for matching.

    `known_literals` maps patterns to the groups an earlier derivation found (None: unparsable)."""
    if isinstance(paranoia, bool) or paranoia not in PARANOIA_LEVELS:
        raise ValueError(f"paranoia must be one of {PARANOIA_LEVELS}, got {paranoia!r}")
    all_signatures = tuple(signatures)
    active = [s for s in all_signatures if s.paranoia <= paranoia]
    compiled: list[CompiledSignature] = []
    literal_ids: dict[str, int] = {}
    owners: defaultdict[int, set[tuple[int, int]]] = defaultdict(set)
    chains: defaultdict[tuple[str, ...], set[int]] = defaultdict(set)
    complete: list[int] = []
    weak: list[tuple[tuple[frozenset[str], tuple[str, ...]], ...]] = []
    for index, sig in enumerate(active):
        groups = requirements(sig, known_literals)
        compiled.append(CompiledSignature(sig, sig.transforms, groups, index))
        chains[sig.transforms].add(index)
        ranked = sorted(groups or (), key=_strength, reverse=True)
        strong = [g for g in ranked if _strength(g)[0] >= AUTOMATON_LITERAL_LENGTH] or ranked[:1]
        weak.append(
            tuple(
                (frozenset(x for x in g if len(x) == 1), tuple(x for x in g if len(x) > 1))
                for g in ranked
                if g not in strong
            )
        )
        complete.append((1 << len(strong)) - 1)
        for position, group in enumerate(strong):
            for literal in group:
                owners[literal_ids.setdefault(literal, len(literal_ids))].add((index, 1 << position))
    automaton = None
    if literal_ids:
        automaton = ahocorasick.Automaton()
        for literal, literal_id in literal_ids.items():
            automaton.add_word(literal, literal_id)
        automaton.make_automaton()
    return RuleSet(
        signatures=tuple(compiled),
        paranoia=paranoia,
        version=signature_set_version(all_signatures),
        automaton=automaton,
        literal_owners=tuple(tuple(sorted(owners[i])) for i in range(len(literal_ids))),
        complete=tuple(complete),
        weak=tuple(weak),
        always=frozenset(c.index for c in compiled if c.literals is None),
        targeted=frozenset(c.index for c in compiled if not c.signature.applies_everywhere),
        chain_members={chain: frozenset(members) for chain, members in chains.items()},
    )
