"""`allow`: a reviewed false positive becomes an exclusion of its route in `firewall.yaml`.

The exclusion goes into the route (never into the signature, which keeps protecting every other
route and field), one entry per matched signature of the record:

    routes:
      orders:
        exclusions:
          - signature: FW-SQLI-003    # <the signature's title>
            path: sqs.body.comment    # --scope field only: the field where it matched
            reason: "..."
            added_by: <caller ARN or user>
            added_at: 2026-11-29
            record: <record id>

The file is edited round-trip with ruamel.yaml: its comments, key order, quoting and layout stay as
they were; comments that followed the route's last line stay where they were (after the new
entries). ruamel.yaml is a development/CLI dependency (requirements-dev.txt), imported only here.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .filters import ReviewError, matches_of

SCOPES = ("field", "route")


@dataclass(frozen=True)
class Exclusion:
    signature: str
    path: str | None
    reason: str
    added_by: str
    added_at: date
    record: str
    title: str = ""

    def covered_by(self, existing: Any) -> bool:
        """An existing entry already excludes this one (same signature; same path, or no path)."""
        if not hasattr(existing, "get") or existing.get("signature") != self.signature:
            return False
        other = existing.get("path")
        return other is None or other == self.path

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"signature": self.signature}
        if self.path is not None:
            entry["path"] = self.path
        entry.update(reason=self.reason, added_by=self.added_by, added_at=self.added_at, record=self.record)
        return entry


def exclusions_for(
    envelope: dict[str, Any],
    *,
    scope: str,
    reason: str,
    added_by: str,
    added_at: date,
    signatures: frozenset[str] = frozenset(),
) -> list[Exclusion]:
    """One exclusion per matched signature (route scope) or per signature and field (field scope)."""
    if scope not in SCOPES:
        raise ReviewError(f"--scope must be one of {', '.join(SCOPES)}")
    matches = matches_of(envelope)
    record = str(envelope.get("record_id", ""))
    if not matches:
        error = (envelope.get("verdict") or {}).get("error")
        why = f" (it was quarantined because: {error})" if error else ""
        raise ReviewError(f"record {record} matched no signature{why}: there is nothing to exclude")
    found: dict[tuple[str, str | None], Exclusion] = {}
    for match in matches:
        signature = str(match.get("signature_id", ""))
        if not signature or (signatures and signature not in signatures):
            continue
        path = str(match.get("path", "")) if scope == "field" else None
        found.setdefault(
            (signature, path),
            Exclusion(signature, path, reason, added_by, added_at, record, str(match.get("title", ""))),
        )
    if not found:
        raise ReviewError(f"record {record} matched none of the signatures {', '.join(sorted(signatures))}")
    return list(found.values())


@dataclass
class Edit:
    added: list[Exclusion]
    skipped: list[Exclusion]
    text: str
    """The whole new file."""


def _yaml() -> Any:
    try:
        from ruamel.yaml import YAML
    except ImportError:  # pragma: no cover - a development dependency
        raise ReviewError(
            "`firewall quarantine allow` needs ruamel.yaml (pip install -r requirements-dev.txt)"
        ) from None
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(
        type(None), lambda representer, _value: representer.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def add_exclusions(text: str, route: str, exclusions: list[Exclusion], *, name: str = "firewall.yaml") -> Edit:
    """The file's text with `exclusions` added under `routes.<route>.exclusions` (comments kept)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import YAMLError

    yaml = _yaml()
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        raise ReviewError(f"{name}: invalid YAML: {exc}") from None
    routes = document.get("routes") if isinstance(document, CommentedMap) else None
    if not isinstance(routes, CommentedMap) or route not in routes:
        known = ", ".join(str(r) for r in routes) if isinstance(routes, CommentedMap) else "none"
        raise ReviewError(f"{name}: no route {route!r} (routes: {known}); is this the configuration that deployed it?")
    body = routes[route]
    if not isinstance(body, CommentedMap):
        raise ReviewError(f"{name}: route {route!r} is not a mapping")
    existing = body.get("exclusions")
    if existing is not None and not isinstance(existing, CommentedSeq):
        raise ReviewError(f"{name}: routes.{route}.exclusions must be a list")
    current = list(existing or [])
    added = [e for e in exclusions if not any(e.covered_by(old) for old in current)]
    skipped = [e for e in exclusions if e not in added]
    if not added:
        return Edit([], skipped, text)
    trailing = _detach_trailing_comments(body)
    if existing is None:
        existing = CommentedSeq()
        body["exclusions"] = existing
    for exclusion in added:
        entry = CommentedMap()
        entry.update(exclusion.as_dict())
        if exclusion.title:
            entry.yaml_add_eol_comment(f"# {_one_line(exclusion.title)}", "signature")
        existing.append(entry)
    if trailing:
        _attach_trailing_comments(existing[-1], trailing)
    out = io.StringIO()
    yaml.dump(document, out)
    return Edit(added, skipped, out.getvalue())


def _one_line(text: str) -> str:
    return " ".join(text.split())[:100]


def _detach_trailing_comments(node: Any) -> str | None:
    """Comment lines after the last value of `node` belong to what follows it (the next route, the
    end of the file): take them off its last value, leaving that line's own end-of-line comment."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap) and len(node):
        last: Any = list(node.keys())[-1]
        slot_index = 2
    elif isinstance(node, CommentedSeq) and len(node):
        last = len(node) - 1
        slot_index = 0
    else:
        return None
    value = node[last]
    if isinstance(value, CommentedMap | CommentedSeq):
        inner = _detach_trailing_comments(value)
        if inner is not None:
            return inner
    slot = node.ca.items.get(last)
    if not slot or len(slot) <= slot_index or slot[slot_index] is None:
        return None
    head, newline, rest = str(slot[slot_index].value).partition("\n")
    if not rest:
        return None
    slot[slot_index].value = head + newline
    return rest


def _attach_trailing_comments(entry: Any, comments: str) -> None:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    last = list(entry.keys())[-1]
    entry.ca.items[last] = [None, None, CommentToken("\n" + comments, CommentMark(0), None), None]


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step (a crash leaves the old or the new file, never half of one)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_config(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReviewError(f"cannot read {path}: {exc.strerror}") from None
