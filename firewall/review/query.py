"""Selecting envelopes: key-level filters while listing, then (only where needed) the envelope.

Envelopes are read in chunks, in a small thread pool, and only when a filter needs them (signature,
family, severity, status, or a time bound inside a day) or the caller shows them. A page stops
reading as soon as it is full.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

from .filters import Filters
from .progress import Progress
from .store import Entry, ReviewStore, Stored, decode_token, encode_token


@dataclass
class Item:
    entry: Entry
    stored: Stored | None
    """None when the envelope was not needed (or disappeared before it could be read)."""


@dataclass
class Page:
    items: list[Item]
    next_token: str | None


def select(
    store: ReviewStore,
    filters: Filters,
    *,
    fetch: bool = True,
    after: tuple[str, str, str] | None = None,
    chunk: int = 64,
    progress: Progress | None = None,
) -> Generator[Item, None, None]:
    """Every envelope passing `filters`, newest first. `fetch`: read each one (for display);
    otherwise only those a filter needs are read."""
    pending: list[Entry] = []
    for entry in store.entries(filters, after=after, progress=progress):
        pending.append(entry)
        if len(pending) >= chunk:
            yield from _judge(store, filters, pending, fetch, progress)
            pending = []
    yield from _judge(store, filters, pending, fetch, progress)


def _judge(
    store: ReviewStore, filters: Filters, entries: list[Entry], fetch: bool, progress: Progress | None
) -> Iterator[Item]:
    needed = [e for e in entries if fetch or filters.needs_envelope or filters.needs_time_check(e.day)]
    read = dict(zip((e.key for e in needed), store.read_many([e.key for e in needed], progress), strict=True))
    for entry in entries:
        if entry.key not in read:
            yield Item(entry, None)
            continue
        stored = read[entry.key]
        if stored is None:
            continue  # deleted while we listed
        if filters.envelope_match(stored.envelope, check_time=filters.needs_time_check(entry.day)):
            yield Item(entry, stored)


def page(
    store: ReviewStore,
    filters: Filters,
    *,
    limit: int,
    token: str | None = None,
    fetch: bool = True,
    progress: Progress | None = None,
) -> Page:
    """At most `limit` envelopes after `token`; `next_token` is set when more follow."""
    after = decode_token(token) if token else None
    chunk = max(8, min(limit + 1, 101))  # one more than the page: knowing whether more follow is free
    items: list[Item] = []
    found = select(store, filters, fetch=fetch, after=after, chunk=chunk, progress=progress)
    try:
        for item in found:
            items.append(item)
            if len(items) == limit:
                break
        more = len(items) == limit and next(found, None) is not None
    finally:
        found.close()
    return Page(items, encode_token(items[-1].entry) if more else None)
