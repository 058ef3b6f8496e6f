"""Flatten JSON-like values into fields: every string value and every key, with a path naming it.

Attackers choose the shape of what they send, so everything here is bounded: nesting depth, how many
JSON-in-a-string layers are opened, how many fields a record may carry. Walking uses an explicit stack
(never recursion), and a limit that is hit becomes a *problem* on the record, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from firewall.sources.base import Field

KEY_SEGMENT = "{}"
"""Path segment under which a container's keys are listed: `sqs.body.{}` holds the body's top keys."""


@dataclass(frozen=True)
class Limits:
    """Bounds on the work done for one record; exceeding one adds a problem to the record."""

    max_depth: int = 64
    """Deepest container nesting walked, counted across JSON-in-a-string layers."""
    max_json_layers: int = 8
    """How many times a string holding JSON is opened along one path (a body, its Message, ...)."""
    max_fields: int = 20_000
    """Fields kept per record; the rest are dropped and a problem is recorded."""
    max_key_chars: int = 64
    """A key longer than this is shortened *in paths* (the key itself is still a whole field)."""
    max_decode_rounds: int = 8
    """URL-decoding rounds for S3 keys ("until stable", but bounded)."""
    max_objects: int = 100
    """S3 objects one record may ask the runtime to read (a crafted body could list thousands)."""


DEFAULT_LIMITS = Limits()


class JsonObject(list[tuple[str, Any]]):
    """A parsed JSON object kept as its (key, value) pairs, so duplicate keys are all inspected."""


def _ignore_number(_text: str) -> int:
    """Numbers are never fields; skipping int() also avoids the int digit limit's ValueError."""
    return 0


_DECODER = json.JSONDecoder(object_pairs_hook=JsonObject, parse_int=_ignore_number)


def _loads(text: str) -> Any:
    """`json.loads` with our hooks, without building a decoder per call (a third of its time on a 1 KB
    body). A function, like `json.loads`, so the parser's recursion limit is met at the same nesting."""
    return _DECODER.decode(text)


_JSON_OPENING = re.compile(r'\{[ \t\n\r]*["}]|\[[ \t\n\r]*[-\[\]{"0-9tfnNI]')
"""How a JSON object or array can begin: `{` then a key or `}`, `[` then a value or `]` (`NaN` and
`Infinity` included, as `json` reads them). Text that opens otherwise (19,000 fields of `{{7*7}}`)
is not handed to the parser, whose error for each costs more than the rest of the field's walk."""


def parse_json_text(text: str) -> tuple[Any, str | None]:
    """Parse `text` if it looks like a JSON object or array: returns (value or None, problem or None).

    Only text that opens as an object or array does (`_JSON_OPENING`) is tried, and text that is not
    valid JSON is simply not JSON (no problem). JSON too deep for the parser is a problem: the caller still has the
    raw text as a field.
    """
    stripped = text.lstrip()
    if not _JSON_OPENING.match(stripped):
        return None, None
    try:
        value = _loads(stripped)
    except RecursionError:
        return None, "JSON nested too deeply to parse"
    except ValueError:
        return None, None
    return value, None


def looks_like_json(text: str) -> bool:
    """Cheap test used before parsing: does the text open a JSON object or array?"""
    stripped = text.lstrip()
    return bool(stripped) and stripped[0] in "{["


def decode_base64(text: str) -> tuple[bytes | None, str | None]:
    """Decode strict base64: returns (bytes, None) or (None, problem)."""
    try:
        return base64.b64decode(text, validate=True), None
    except (binascii.Error, ValueError) as error:
        return None, f"invalid base64 ({error})"


_UNICODE_OPENINGS = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),  # before UTF-16's mark, which it starts with
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"<\x00\x00\x00", "utf-32-le"),  # an XML document without a mark: its `<` tells (XML 1.0, F.1)
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)


def text_encoding(data: bytes) -> str:
    """The encoding the bytes announce by a byte order mark or, for XML, by how `<?` is spelled;
    UTF-8 otherwise. An XML parser reads UTF-16 without a mark so: an XXE payload in it must be
    read as the parser will."""
    for opening, encoding in _UNICODE_OPENINGS:
        if data.startswith(opening):
            return encoding
    return "utf-8"


def text_or_bytes(data: bytes) -> str | bytes:
    """The text when the bytes are UTF-8, or printable text in the UTF-16 or UTF-32 they announce,
    so that text signatures apply; else the bytes themselves (binary that merely opens like a mark
    stays bytes, for byte signatures)."""
    encoding = text_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return data
    if encoding.startswith("utf-8") or (text and sum(c.isprintable() or c.isspace() for c in text) >= 0.9 * len(text)):
        return text
    return data


def key_segment(key: str, limits: Limits) -> str:
    """A key as it appears in a path: printable, and shortened so paths stay small."""
    if len(key) <= limits.max_key_chars and key.isprintable():
        return key
    clean = "".join(ch if ch.isprintable() else "?" for ch in key[: limits.max_key_chars + 1])
    if len(clean) > limits.max_key_chars:
        return clean[: limits.max_key_chars] + "…"
    return clean


def child_path(parent: str, key: str, limits: Limits) -> str:
    """Path of a map member: `parent.key` (or just `key` at the root)."""
    segment = key_segment(key, limits)
    return f"{parent}.{segment}" if parent else segment


NESTED_PATH_MEMBERS = 64
"""Lists up to this long are also searched for a member list that names `prototype`."""


def property_path(members: Any) -> str | None:
    """The property path a list spells when a key follows `prototype` in it; None otherwise.

    Lodash's `set`, dot-prop and object-path take a path as a list, one name per member:
    `["constructor", "prototype", "isAdmin"]` pollutes Object.prototype while each member alone is
    a harmless word. A member list names the key JavaScript makes of it (`["prototype"]` is
    `prototype`). A set has no order, so it spells no path."""
    if not isinstance(members, (list, tuple)):
        return None
    try:
        named = "prototype" in members
    except Exception:  # a foreign member whose comparison raises: reported by the walk, not read
        return None
    if not named:
        if len(members) > NESTED_PATH_MEMBERS:
            return None
        kinds = set(map(type, members))  # in C: this runs for every list of every record
        if not any(issubclass(kind, (list, tuple)) and not issubclass(kind, JsonObject) for kind in kinds):
            return None
    names = [_js_key(member) for member in members]
    return ".".join(names) if "prototype" in names[:-1] else None


MAX_KEY_DEPTH = 100
"""Member lists nested deeper than the walk's own limit are keyed as empty."""


def _js_key(value: Any, depth: int = 0) -> str:
    """The property key JavaScript makes of a JSON value (String(value): a list joins its members
    with commas, null members as empty; an object, whose pairs a JsonObject holds, is
    `[object Object]`)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)) and not isinstance(value, JsonObject) and depth < MAX_KEY_DEPTH:
        return ",".join("" if member is None else _js_key(member, depth + 1) for member in value)
    if isinstance(value, (dict, JsonObject)):
        return "[object Object]"
    return "null" if value is None else ""

_NOTHING = frozenset({int, float, bool, type(None)})
"""Exact types of the JSON scalars that are never fields: a container skips them without a stack entry."""

_new_field = tuple.__new__
"""`_new_field(Field, (path, value))` is `Field(path, value)` without the named tuple's Python-level
`__new__`: the walk builds thousands of fields per large record."""

_Pending = tuple[str, Any, int, int]
"""One node still to walk: (path, value, depth, JSON layers above it)."""

# What a node is, for the walk (see `_shape`).
_TEXT, _BYTES, _MAP, _LIST, _OTHER, _FOREIGN = range(6)
_SHAPES: dict[type, int] = {str: _TEXT, bytes: _BYTES, JsonObject: _MAP, dict: _MAP, list: _LIST, tuple: _LIST}


def _shape(value: Any) -> int:
    """What a node is, by isinstance: subclasses (of str, dict, list...) are walked as their base,
    a bytearray or memoryview as bytes, a set as a list. Numbers (a DynamoDB number is a Decimal)
    and None are nothing to inspect; any other object is `_FOREIGN`: it is not JSON-like, and
    skipping it would pass whatever it holds."""
    if isinstance(value, str):
        return _TEXT
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _BYTES
    if isinstance(value, (dict, JsonObject)):
        return _MAP
    if isinstance(value, (list, tuple, set, frozenset)):
        return _LIST
    if value is None or isinstance(value, (int, float, Decimal)):
        return _OTHER
    return _FOREIGN


def _plain(text: str) -> bool:
    """A string that cannot hold JSON (see `looks_like_json`): it is a field as it is.

    Cheaper than `looks_like_json` (no `lstrip`); a string starting with a space is not plain, and
    is left to `looks_like_json`.
    """
    return not text or (text[0] not in "{[" and not text[0].isspace())


class Collector:
    """Accumulates the fields and problems of one record, enforcing the limits."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.fields: list[Field] = []
        self.problems: list[str] = []
        self._full = False

    def add(self, path: str, value: str | bytes) -> None:
        """Keep one field, unless the record already carries the maximum (then say so once)."""
        if len(self.fields) < self.limits.max_fields:
            self.fields.append(_new_field(Field, (path, value)))
        elif not self._full:
            self._full = True
            self.problem(f"more than {self.limits.max_fields} fields; the rest were not inspected")

    def problem(self, message: str) -> None:
        """Record why part of the record could not be decoded or inspected."""
        self.problems.append(message)

    def add_base64(self, path: str, encoded: Any) -> None:
        """A binary value that arrives base64-encoded: the bytes are inspected (as text, JSON
        opened, when they are UTF-8); undecodable base64 is a problem, and kept as it came."""
        if not isinstance(encoded, str):
            return
        data, problem = decode_base64(encoded)
        if data is None:
            self.problem(f"{path}: {problem}")
            self.add(path, encoded)
            return
        self.add_bytes(path, data)

    def add_bytes(self, path: str, data: bytes) -> None:
        """Decoded bytes: as text (JSON opened) when they read as text, else as bytes."""
        decoded = text_or_bytes(data)
        if isinstance(decoded, str):
            self.walk_text(path, decoded)
        else:
            self.add(path, decoded)

    def walk(self, path: str, value: Any, *, depth: int = 0, layers: int = 0) -> None:
        """Flatten `value` under `path`: strings and keys become fields, JSON strings are opened.

        Fields come in document order: a container's keys, then each member's subtree in turn.
        Every record goes through here, so this is written for speed: one explicit stack of plain
        tuples, the common cases inlined (`add`, `child_path`), and a container adds its plain
        members (strings that cannot be JSON, bytes) at once. Once it has stacked a member, it
        stacks the rest too, in reverse, so that they are walked in order before anything below.
        """
        limits = self.limits
        fields = self.fields
        max_depth, max_fields, max_key_chars = limits.max_depth, limits.max_fields, limits.max_key_chars
        keys_segment = key_segment(KEY_SEGMENT, limits)
        stack: list[_Pending] = [(path, value, depth, layers)]
        pop = stack.pop
        while stack:
            path, value, depth, layers = pop()
            shape = _SHAPES.get(type(value))
            if shape is None:
                shape = _shape(value)
            if shape == _TEXT:
                parsed = None if _plain(value) else self._parse(path, value, layers)
                if parsed is not None:
                    stack.append((path, parsed, depth + 1, layers + 1))
                elif len(fields) < max_fields:
                    fields.append(_new_field(Field, (path, value)))
                else:
                    self.add(path, value)
                continue
            if shape == _BYTES:
                self.add(path, value if type(value) is bytes else bytes(value))
                continue
            if shape == _OTHER:
                continue
            if shape == _FOREIGN:
                self.problem(f"{path} is of type {type(value).__name__}, not a JSON-like value: not inspected")
                continue
            if depth >= max_depth:
                self._too_deep(path, value)
                continue
            depth += 1
            pending: list[_Pending] = []
            if shape == _LIST:
                for index, item in enumerate(value):
                    kind = type(item)
                    if kind in _NOTHING:
                        continue
                    if pending or not (kind is bytes or (kind is str and _plain(item))):
                        pending.append((f"{path}[{index}]", item, depth, layers))
                    elif len(fields) < max_fields:
                        fields.append(_new_field(Field, (f"{path}[{index}]", item)))
                    else:
                        self.add(f"{path}[{index}]", item)
                spelt = property_path(value)
                if spelt is not None:
                    self.add(path, spelt)
            else:
                # Every key is a field at `<path>.{}`, every member is walked at `<path>.<key>`.
                pairs: Any = value if isinstance(value, JsonObject) else [
                    (key if type(key) is str else str(key), member) for key, member in value.items()
                ]
                prefix = f"{path}." if path else ""  # at the root, a path is the segment itself
                keys_path = prefix + keys_segment if path else keys_segment
                if len(fields) + len(pairs) <= max_fields:  # room for every key: `add` without its checks
                    for key, _ in pairs:
                        fields.append(_new_field(Field, (keys_path, key)))
                else:
                    for key, _ in pairs:
                        self.add(keys_path, key)
                for key, member in pairs:
                    kind = type(member)
                    if kind in _NOTHING:
                        continue
                    # `child_path`, with the common case of `key_segment` (a short printable key) inlined.
                    segment = key if len(key) <= max_key_chars and key.isprintable() else key_segment(key, limits)
                    member_path = prefix + segment if path else segment
                    if pending or not (kind is bytes or (kind is str and _plain(member))):
                        pending.append((member_path, member, depth, layers))
                    elif len(fields) < max_fields:
                        fields.append(_new_field(Field, (member_path, member)))
                    else:
                        self.add(member_path, member)
            if pending:
                pending.reverse()
                stack += pending

    def walk_text(self, path: str, text: str, *, depth: int = 0, layers: int = 0) -> Any:
        """Flatten a string that may hold JSON and return its parsed value (None if not JSON).

        Text that parses as JSON is inspected through its keys and strings (escapes decoded), not
        again whole: that doubled the work, and one slow pattern over a whole large document could
        decide the verdict of a benign record.

        Callers use the returned value to recognise envelopes (an S3 notification in an SQS body)
        without parsing the text twice.
        """
        parsed = self._parse(path, text, layers)
        if parsed is None:
            self.add(path, text)
        else:
            self.walk(path, parsed, depth=depth + 1, layers=layers + 1)
        return parsed

    def _parse(self, path: str, text: str, layers: int) -> Any:
        """Parse JSON in a string if allowed at this layer; problems are recorded with the path."""
        if not looks_like_json(text):
            return None
        if layers >= self.limits.max_json_layers:
            self.problem(f"{path}: more than {self.limits.max_json_layers} JSON-in-string layers")
            return None
        parsed, problem = parse_json_text(text)
        if problem:
            self.problem(f"{path}: {problem}")
        return parsed

    def _too_deep(self, path: str, value: Any) -> None:
        """Past the depth limit: record a problem and keep the subtree's text as one field."""
        self.problem(f"{path}: nested deeper than {self.limits.max_depth} levels")
        try:
            text = json.dumps(value, default=_bytes_as_text, ensure_ascii=False)
        except (RecursionError, ValueError, TypeError):
            return
        self.add(path, text)


def flatten_value(path: str, value: Any, limits: Limits = DEFAULT_LIMITS) -> tuple[list[Field], list[str]]:
    """Fields and problems of any JSON-like value (a string holding JSON is opened), for `inspect`."""
    collector = Collector(limits)
    if isinstance(value, str):
        collector.walk_text(path, value)
    else:
        collector.walk(path, value)
    return collector.fields, collector.problems


def _bytes_as_text(value: Any) -> Any:
    """json.dumps fallback so a too-deep subtree holding bytes can still be kept as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def member(container: Any, key: str) -> Any:
    """`container[key]` for a dict or a parsed JSON object (last duplicate wins, as in json), else None."""
    if isinstance(container, JsonObject):
        for name, value in reversed(container):
            if name == key:
                return value
        return None
    if isinstance(container, dict):
        return container.get(key)
    return None


def is_mapping(value: Any) -> bool:
    """True for a dict or a parsed JSON object."""
    return isinstance(value, (dict, JsonObject))


def as_str(value: Any) -> str | None:
    """The value if it is a string, else None: event members are untrusted and may be any type."""
    return value if isinstance(value, str) else None
