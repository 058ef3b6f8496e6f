"""Masked excerpts: enough of a match for a reviewer to judge it, never the whole payload."""

from __future__ import annotations

MAX_EXCERPT = 64
ELLIPSIS = "…"


def _visible(text: str) -> str:
    return "".join(ch if ch.isprintable() else "·" for ch in text)


def excerpt(text: str, start: int, end: int, width: int = MAX_EXCERPT) -> str:
    """At most `width` characters centred on text[start:end]; the cut-off rest is masked as `…`,
    non-printable characters as `·`."""
    if end - start >= width - 2:
        tail = ELLIPSIS if start + width - 2 < len(text) else ""
        return ELLIPSIS[: 1 if start > 0 else 0] + _visible(text[start : start + width - 2]) + tail
    room = width - 2 - (end - start)
    before = min(start, room // 2 + max(0, room - room // 2 - (len(text) - end)))
    after = min(len(text) - end, room - before)
    left, right = start - before, end + after
    head = ELLIPSIS if left > 0 else ""
    tail = ELLIPSIS if right < len(text) else ""
    return head + _visible(text[left:right]) + tail
