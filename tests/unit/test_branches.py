"""Searching a pattern branch by branch on long texts finds exactly the whole pattern's match."""

from __future__ import annotations

import random

import pytest
import regex

from firewall.engine.branches import LONG_TEXT, Branches, top_level_branches
from firewall.engine.model import Signature
from firewall.engine.transforms import apply_chain


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"alert\(|\.\s*call\(|=\s*eval", [r"alert\(", r"\.\s*call\(", r"=\s*eval"]),
        (r"(?:a|b)c|[|x]y|d\|e|f", [r"(?:a|b)c", r"[|x]y", r"d\|e", "f"]),
        (r"[]|]x|[^]|]y", [r"[]|]x", r"[^]|]y"]),  # a leading `]` belongs to the set
        (r"(?i)select\s|union\s", [r"(?i)select\s", r"union\s"]),
        (r"(a)x\1|by", [r"(a)x\1", "by"]),  # the back-reference's group keeps its number alone
        (r"union\s+select", None),  # one branch: nothing to split
        (r"(a)x|(b)y\2", None),  # alone, the second branch's group would be group 1
        (r"abc|abd", None),  # the parser factors the common prefix out: not a top-level alternation
    ],
)
def test_top_level_branches(pattern: str, expected: list[str] | None) -> None:
    assert top_level_branches(pattern) == expected


def test_branch_search_finds_the_whole_patterns_match(bundled_signatures: tuple[Signature, ...]) -> None:
    """For every shipped signature that splits, on long texts holding its examples among filler
    (several matches, matches at the edges, none), the leftmost branch match is the whole
    pattern's match: same start, same end."""
    rng = random.Random(23)
    filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit; 42 = answer / (x) "
    split = 0
    for sig in bundled_signatures:
        pieces = top_level_branches(sig.pattern)
        if pieces is None:
            continue
        split += 1
        whole = regex.compile(sig.pattern)
        searcher = Branches(whole, pieces)
        examples = [*sig.match_examples, *sig.no_match_examples]
        for _ in range(4):
            parts = [filler * rng.randint(0, 80)]
            for example in rng.sample(examples, min(3, len(examples))):
                parts += [example, filler * rng.randint(0, 40)]
            text = apply_chain(sig.transforms, "".join(parts))
            if len(text) < LONG_TEXT:
                text += filler * (LONG_TEXT // len(filler) + 1)
            expected = whole.search(text)
            found = searcher.search(text)
            assert (found and found.span()) == (expected and expected.span()), sig.id
    assert split > 60


def test_short_texts_use_the_whole_pattern() -> None:
    class Counting:
        calls = 0

        def search(self, text: str, pos: int = 0, *, timeout: float | None = None) -> None:
            Counting.calls += 1

    searcher = Branches(regex.compile("a|b"), ["a", "b"])
    searcher.whole = Counting()  # type: ignore[assignment]
    searcher.search("x" * 100)
    assert Counting.calls == 1


def test_branches_share_one_timeout() -> None:
    """Each branch gets what the earlier ones left of the search's timeout, not a whole one."""
    import time

    given: list[float | None] = []

    class Slow:
        def search(self, text: str, pos: int = 0, timeout: float | None = None) -> None:
            given.append(timeout)
            time.sleep(0.02)

    searcher = Branches(regex.compile("a|b|c"), ["a", "b", "c"])
    searcher._parts = (Slow(), Slow(), Slow())  # type: ignore[assignment]
    with pytest.raises(TimeoutError):
        searcher.search("x" * LONG_TEXT, timeout=0.03)
    assert given[0] is not None and 0.025 < given[0] <= 0.03
    assert given[1] is not None and given[1] < 0.015
