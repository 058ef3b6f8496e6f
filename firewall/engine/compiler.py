"""Signatures -> a `RuleSet` ready for matching: compiled regexes, transform chains and one
literal automaton for every signature's fast pattern."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import ahocorasick
import regex

from .literals import derive_literals
from .model import PARANOIA_LEVELS, Signature


@dataclass(frozen=True)
class CompiledSignature:
    signature: Signature
    pattern: regex.Pattern[str]
    chain: tuple[str, ...]
    literals: frozenset[str] | None
    """None: no usable fast pattern, the regex runs on every field the signature targets."""
    index: int


@dataclass(frozen=True)
class RuleSet:
    """Everything the matcher needs, built once per process (at cold start)."""

    signatures: tuple[CompiledSignature, ...]
    paranoia: int
    version: str
    """A hash of every signature's definition: changes whenever any rule changes."""
    automaton: Any
    literal_owners: tuple[frozenset[int], ...]
    """For each literal id in the automaton, the signatures that it admits."""
    always: frozenset[int]
    targeted: frozenset[int]
    chain_members: dict[tuple[str, ...], frozenset[int]]
    _target_cache: dict[str, frozenset[int]] = field(default_factory=dict, compare=False, repr=False)

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
        """Signatures whose fast pattern occurs in `lowered` (lower-cased text)."""
        hits: set[int] = set()
        if self.automaton is None:
            return hits
        seen: set[int] = set()
        for _end, literal_id in self.automaton.iter(lowered):
            if literal_id not in seen:
                seen.add(literal_id)
                hits |= self.literal_owners[literal_id]
        return hits


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


def compile_signatures(signatures: Iterable[Signature], paranoia: int = 1) -> RuleSet:
    """Keep the signatures at or below `paranoia` and prepare them for matching."""
    if paranoia not in PARANOIA_LEVELS:
        raise ValueError(f"paranoia must be one of {PARANOIA_LEVELS}, got {paranoia!r}")
    all_signatures = tuple(signatures)
    active = [s for s in all_signatures if s.paranoia <= paranoia]
    compiled: list[CompiledSignature] = []
    literal_ids: dict[str, int] = {}
    owners: defaultdict[int, set[int]] = defaultdict(set)
    chains: defaultdict[tuple[str, ...], set[int]] = defaultdict(set)
    for index, sig in enumerate(active):
        literals = frozenset(sig.prefilter) if sig.prefilter else derive_literals(sig.pattern)
        compiled.append(CompiledSignature(sig, regex.compile(sig.pattern), sig.transforms, literals, index))
        chains[sig.transforms].add(index)
        for literal in literals or ():
            owners[literal_ids.setdefault(literal, len(literal_ids))].add(index)
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
        literal_owners=tuple(frozenset(owners[i]) for i in range(len(literal_ids))),
        always=frozenset(c.index for c in compiled if c.literals is None),
        targeted=frozenset(c.index for c in compiled if not c.signature.applies_everywhere),
        chain_members={chain: frozenset(members) for chain, members in chains.items()},
    )
