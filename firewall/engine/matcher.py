"""Match a record's fields against a `RuleSet` within a time budget.

An automaton pass over folded text finds each field's candidate signatures; only candidates run
their regex, each with a timeout, within a CPU budget for the record. Plain fields (no character
any decoder acts on) share one pass for the whole record; a field some decoder changes gets one
pass per distinct decoded text, its chains reduced to the decoders that act on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import compress, repeat
from operator import is_, itemgetter
from typing import Any, cast

from .batching import (
    JoinedGroup,
    candidates_of_forms,
    forms_of,
    group_candidates,
    joinable_acting,
    screened,
    settle,
)
from .compiler import RuleSet
from .decoded import DecodedTexts, acting_decoders_of
from .findings import MAX_PATHS_PER_SIGNATURE, Budget, Findings, Hit, Limits, Memo
from .literals import fold
from .model import Exclusion
from .screen import Allowance
from .search import FieldTexts, GroupText, RecordSearch, applicable, plan_searches

__all__ = [
    "MAX_PATHS_PER_SIGNATURE",
    "Findings",
    "Hit",
    "Limits",
    "Memo",
    "as_text",
    "field_candidates",
    "inspect_fields",
    "prime",
    "record_candidates",
]

DEFAULT_LIMITS = Limits()


def as_text(value: str | bytes) -> str:
    """Bytes are read as UTF-8 where valid, else byte for byte (Latin-1), so no byte is lost."""
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def as_texts(fields: Iterable[tuple[str, str | bytes]]) -> list[tuple[str, str]]:
    """`fields` with their values `as_text`. Values are mostly strings: such a field (a `Field` too)
    is kept as it is, not rebuilt, which halves the cost of this pass over every field."""
    texts: list[Any] = [field if field[1].__class__ is str else (field[0], as_text(field[1])) for field in fields]
    return texts


def inspect_fields(
    rules: RuleSet,
    fields: Iterable[tuple[str, str | bytes]],
    limits: Limits = DEFAULT_LIMITS,
    exclusions: Sequence[Exclusion] = (),
    memo: Memo | None = None,
) -> Findings:
    """Every field's hits. Plain fields (the large majority of real data) are scanned together:
    one automaton pass over all of them, hits mapped back to their field. `memo` carries what
    earlier records of the same batch found."""
    findings = Findings()
    _search(rules, fields, Memo() if memo is None else memo, limits, exclusions, Budget(limits.record_budget), findings)
    return findings


PRIME_BUDGET = 0.5
"""CPU seconds the batch-wide regex pass may take; what it leaves undone, each record does."""


def prime(
    rules: RuleSet,
    fields: Iterable[tuple[str, str | bytes]],
    memo: Memo,
    limits: Limits = DEFAULT_LIMITS,
    exclusions: Sequence[Exclusion] = (),
) -> None:
    """Do the work of a whole batch's fields at once, into `memo`: one automaton scan and one
    decoding per group, then each candidate signature's search over its fields of every record
    joined, instead of all of it record by record. Each record's inspection then recalls the
    outcomes (and still works out any field added since, such as an object's). A search that times
    out here only leaves its fields to their records, where a timeout is a verdict."""
    _search(rules, fields, memo, limits, exclusions, Budget(PRIME_BUDGET), Findings())


def _search(
    rules: RuleSet,
    fields: Iterable[tuple[str, str | bytes]],
    memo: Memo,
    limits: Limits,
    exclusions: Sequence[Exclusion],
    budget: Budget,
    findings: Findings,
) -> None:
    """Candidates, then the regex stage, of `fields` into `findings` and `memo`."""
    memo.trim()
    items = as_texts(fields)
    found, texts = record_candidates(rules, items, memo)
    plan = plan_searches(rules, items, found, exclusions)
    RecordSearch(rules, items, texts, limits, budget, findings, memo).run(plan)


def record_candidates(
    rules: RuleSet, items: list[tuple[str, str]], memo: Memo | None = None
) -> tuple[dict[int, set[int]], dict[int, FieldTexts]]:
    """Per field that has any, the signatures whose literals it holds (before target filtering),
    and for each such field either the decoded texts computed on the way or the decoders its
    chains reduce to (None: none, every chain runs in full). A field left out has no candidate
    (most, once the screen has spoken). A text that recurs in the record (a currency, a status, a
    category), or that `memo` already holds, is examined once. The screen leaves out the
    signatures no field here is a target of (a memo's, those of the fields it was first given)."""
    known, screening = _scope(rules, items, memo)
    recalls = list(map(known.get, map(_TEXT, items)))
    found: dict[int, set[int]] = {}
    texts: dict[int, FieldTexts] = {}
    if None not in recalls:  # every text recalled (a record of a primed batch)
        every = cast("list[tuple[set[int], FieldTexts]]", recalls)
        for index in compress(range(len(every)), map(_CANDIDATES, every)):
            found[index], texts[index] = every[index]
        return found, texts
    fresh = dict.fromkeys(compress(map(_TEXT, items), map(is_, recalls, repeat(None))))
    allowance = Allowance(0.0) if sum(map(len, fresh)) < SCREENED_LENGTH else screening  # 0: not screened
    plain, evaluated = acting_decoders_of(fresh)
    groups: dict[frozenset[str], list[str]] = {}
    for text, acting in evaluated:
        if acting:
            groups.setdefault(acting, []).append(text)
        else:
            plain.append(text)
    given: dict[str, tuple[set[int], FieldTexts]] = {}
    """The texts worked out here that have candidates, and their decoded texts."""
    alone: list[tuple[str, frozenset[str]]] = []
    for acting, members in _merged(rules, groups).items():
        for part, batched in _joined_parts(rules, members, acting, allowance):
            if batched is None:
                alone += ((text, acting) for text in part)
                continue
            known.update(zip(part, zip(batched.candidates, repeat(batched.reduced_to), strict=False), strict=True))
            for number in compress(range(len(part)), batched.candidates):
                given[part[number]] = (batched.candidates[number], GroupText(batched, number))
    for text, acting in alone:
        decoded = DecodedTexts(text, acting)
        shared = _decoded_candidates(rules, decoded, acting, allowance)
        known[text] = (shared, decoded.reduced_to)
        if shared:
            given[text] = (shared, decoded)
    no_decoder: frozenset[str] = frozenset()
    candidates = _plain_candidates(rules, plain, allowance)
    known.update(zip(plain, zip(candidates, repeat(no_decoder), strict=False), strict=True))
    for number in compress(range(len(plain)), candidates):
        given[plain[number]] = (candidates[number], no_decoder)
    if given or recalls.count(None) < len(recalls):
        for index, recalled in enumerate(recalls):
            entry = given.get(items[index][1]) if recalled is None else recalled
            if entry is not None and entry[0]:
                found[index], texts[index] = entry
    if memo is not None and screening is not memo.screening:
        memo.screening.left = min(memo.screening.left, screening.left)
    return found, texts


_PATH = itemgetter(0)
_TEXT = itemgetter(1)
_CANDIDATES = itemgetter(0)


def _scope(
    rules: RuleSet, items: list[tuple[str, str]], memo: Memo | None
) -> tuple[dict[str, tuple[set[int], frozenset[str] | None]], Allowance]:
    """The candidates `record_candidates` may recall and store, and the screening it may do: the
    memo's, unless a field here is a target of some signature the memo's candidates leave out
    (then a dict of its own, and an allowance leaving out only what no field here is a target of)."""
    if memo is not None and memo.paths.issuperset(map(_PATH, items)):  # a record of the batch
        return memo.candidates, memo.screening
    paths = set(map(_PATH, items))
    untargeted = rules.untargeted(paths)
    if memo is None:
        return {}, Allowance(leave_out=untargeted)
    if not memo.paths:  # the first fields given: what none of them targets is left out
        memo.screening.leave_out = untargeted
    if memo.screening.leave_out <= untargeted:
        memo.paths |= paths
        return memo.candidates, memo.screening
    return {}, Allowance(memo.screening.left, untargeted)


SCREENED_LENGTH = 256
"""A record (or batch) whose texts, each counted once, hold fewer characters is not screened: for a
short field or two, the prefilter and the few regexes it leaves cost less than screening every
decoded form (a record of one short field took 15-35 us more with the screen, an attack payload
up to 150 us more)."""


MERGED_LENGTH = 8192
"""A group of texts up to this many characters in all is decoded with a group whose acting decoders
include its own (`_merged`), when the batch has one as small."""

MERGED_CHAINS = 9
"""A group is decoded with another only where the other's chains reduce to at most this many
(`RuleSet.projections`: 9 for URL, HTML and shell decoding together, at paranoia 1)."""


def _merged(rules: RuleSet, groups: dict[frozenset[str], list[str]]) -> dict[frozenset[str], list[str]]:
    """`groups`, each small one joined to the small group with the widest set of acting decoders that
    holds its own. A decoder that acts on none of a text's characters leaves it as it is, so the wider
    group's chains make of each text what its own would (`settle` widens the set for what any text's
    decodings wake, as in any group). Each group costs a decoding and a screening of every chain's
    output, whatever its size: a batch of 1 KB records has five to eight groups of a few short texts
    (addresses with `+`, notes with an apostrophe, a `%`, or both), which cost 40-100 us each.

    Only where that widest group has few chains (`MERGED_CHAINS`). Many acting decoders together
    mark text built to be decoded, attacks mostly: the screen keeps signatures in play there, in
    every text of the piece it gave RE2, and texts merged in would follow into the prefilter and
    the regex stage. On a mix of attack fragments and benign text, merging into any group took 43%
    longer than merging none, and as long where only the widest groups of few chains take others in.
    """
    small = [acting for acting, members in groups.items() if sum(map(len, members)) <= MERGED_LENGTH]
    hosts: dict[frozenset[str], frozenset[str]] = {}
    for acting in small:
        wider = [other for other in small if acting < other]
        if wider:  # the widest: no small group holds it, so it is not merged itself
            host = max(wider, key=lambda other: (len(other), len(groups[other])))
            if len(rules.projections(host)) <= MERGED_CHAINS:
                hosts[acting] = host
    if not hosts:
        return groups
    merged = {acting: list(members) for acting, members in groups.items() if acting not in hosts}
    for acting, host in hosts.items():
        merged[host] += groups[acting]
    return merged


SMALLEST_SPLIT = 8
"""A group that cannot be decoded joined is halved down to this size, then examined text by text."""


MAX_JOINED_ATTEMPTS = 32
"""Joined decodings tried per group: when most texts cannot be joined (each decodes to a newline),
halving further would only add passes."""


def _joined_parts(
    rules: RuleSet, members: list[str], acting: frozenset[str], allowance: Allowance
) -> list[tuple[list[str], JoinedGroup | None]]:
    """The group's texts in parts, each with its candidates when it could be decoded joined. A
    part that cannot (one text decodes to a newline or wakes another decoder) is halved, so that
    one such text among thousands costs a few joined passes, not thousands of single ones."""
    if not joinable_acting(acting):
        return [(members, None)]
    parts: list[tuple[list[str], JoinedGroup | None]] = []
    pending = [members]
    attempts = 0
    while pending:
        part = pending.pop()
        attempts += 1
        batched = group_candidates(rules, part, acting, allowance) if attempts <= MAX_JOINED_ATTEMPTS else None
        if batched is not None or len(part) <= SMALLEST_SPLIT or attempts > MAX_JOINED_ATTEMPTS:
            parts.append((part, batched))
        else:
            middle = len(part) // 2
            pending += (part[middle:], part[:middle])
    return parts


def field_candidates(rules: RuleSet, path: str, text: str) -> list[int]:
    """The signatures whose regex would run on one field (what `inspect_fields` computes)."""
    found, _ = record_candidates(rules, [(path, text)])
    return applicable(rules, path, found.get(0, set()))


def _plain_candidates(rules: RuleSet, texts: list[str], allowance: Allowance) -> list[set[int]]:
    """Candidates of texts no decoder would change (every chain yields them, up to case): the
    folded texts are joined with newlines, which plain texts never contain, and scanned once."""
    if not texts:
        return []
    joined = "\n".join(texts)
    bound = screened(rules, DecodedTexts(joined, frozenset()), rules.projections(frozenset()), allowance, "\n")
    return candidates_of_forms(rules, lambda: [(fold(joined), rules.every)], len(texts), bound=bound)


def _decoded_candidates(
    rules: RuleSet, texts: DecodedTexts, acting: frozenset[str], allowance: Allowance
) -> set[int]:
    """Candidates of a field some decoder changes. Only the decoders acting on the field, and those
    their decodings wake, can change it, so each chain is evaluated reduced to them (and lower
    case): a few forms instead of one per chain (`settle`); every chain in full when that does not
    settle."""
    texts.reduced_to = settle(rules, texts, acting)
    chains: Iterable[tuple[tuple[str, ...], frozenset[int]]]
    chains = rules.chain_members.items() if texts.reduced_to is None else rules.projections(texts.reduced_to)
    bound = screened(rules, texts, chains, allowance)
    return candidates_of_forms(rules, lambda: forms_of(texts, chains), 1, bound=bound)[0]
