"""Masked excerpts: enough of a match for a reviewer to judge it, never the whole payload."""

from __future__ import annotations

import re

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


MAX_LOGGED = 240
"""Characters of a path or an error message that a log line or a notice carries."""
_LONG_TOKEN = re.compile(r"[^\s.\[\]]{32,}|\d[\d -]{10,}\d")
"""A run that may be a secret used as a key (a token, a password, an access key) or a card or
phone number: in a path or an error message it is attacker-chosen text."""


def loggable(text: str, width: int = MAX_LOGGED) -> str:
    """`text` (a field path, an error naming one) as a log may carry it: each long token or long
    number cut to its first four characters and `…`, non-printable characters as `·`, and at most
    `width` characters. The quarantine envelope keeps the record whole for review."""
    shortened = _LONG_TOKEN.sub(lambda token: token.group()[:4] + ELLIPSIS, text)
    return _visible(shortened[:width]) + (ELLIPSIS if len(shortened) > width else "")
