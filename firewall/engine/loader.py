"""Signature files -> validated, immutable `Signature` objects.

A file is read whole or not at all: the first problem raises `SignatureError` with the file, the
line and the signature id, so that `cdk synth`, the CLI and the Lambda cold start all fail the same
clear way.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from pathlib import Path
from typing import Any

import regex
import yaml

from .errors import SignatureError
from .literals import fold
from .model import PARANOIA_LEVELS, Severity, Signature, unreachable_target
from .transforms import TRANSFORMS

ID_FORMAT = regex.compile(r"FW-[A-Z0-9]+-\d{3,}")
FAMILY_FORMAT = regex.compile(r"[a-z][a-z0-9-]*")
REQUIRED_KEYS = ("id", "title", "severity", "paranoia", "targets", "transforms", "pattern", "examples")
OPTIONAL_KEYS = ("prefilter", "tags", "description")
FILE_KEYS = ("family", "signatures", "description")


def load_directory(directory: str | Path, *, known_patterns: Container[str] = ()) -> tuple[Signature, ...]:
    """Every `*.yaml`/`*.yml` file of a directory (or one file), ids unique across all of them.

    `known_patterns` are patterns an earlier load proved to compile (compiling one costs a few
    milliseconds of `regex`'s pure-Python parser): they are not compiled again here."""
    root = Path(directory)
    if root.is_file():
        files: Iterable[Path] = [root]
    elif root.is_dir():
        files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    else:
        raise SignatureError(str(root), 0, "no such signature file or directory")
    signatures: list[Signature] = []
    seen: dict[str, Signature] = {}
    for path in files:
        for sig in load_file(path, known_patterns=known_patterns):
            if sig.id in seen:
                first = seen[sig.id]
                raise SignatureError(
                    sig.file, sig.line, f"duplicate id, first defined at {first.file}:{first.line}", sig.id
                )
            seen[sig.id] = sig
            signatures.append(sig)
    if not signatures:
        raise SignatureError(str(root), 0, "no signatures found")
    return tuple(signatures)


def load_file(path: str | Path, *, known_patterns: Container[str] = ()) -> tuple[Signature, ...]:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SignatureError(name, 0, f"cannot read file: {exc}") from exc
    return parse_text(text, name, known_patterns=known_patterns)


def parse_text(text: str, name: str = "<string>", *, known_patterns: Container[str] = ()) -> tuple[Signature, ...]:
    """Parse one signature file's text; `name` is used in error messages."""
    try:
        node, document = _compose_and_construct(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise SignatureError(name, line, f"invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    _reject_duplicate_keys(node, name)
    if not isinstance(document, dict) or not isinstance(node, yaml.MappingNode):
        raise SignatureError(name, 1, "expected a mapping with `family` and `signatures`")
    _check_keys(document, FILE_KEYS, ("family", "signatures"), name, 1, None)
    if not isinstance(document.get("description", ""), str):
        raise SignatureError(name, _line_of(node, "description"), "`description` must be a string")
    family = document["family"]
    if not isinstance(family, str) or not FAMILY_FORMAT.fullmatch(family):
        raise SignatureError(name, _line_of(node, "family"), "`family` must be a lower-case word")
    entries = document["signatures"]
    entry_nodes = _child(node, "signatures")
    if not isinstance(entries, list) or not entries or not isinstance(entry_nodes, yaml.SequenceNode):
        raise SignatureError(name, _line_of(node, "signatures"), "`signatures` must be a non-empty list")
    result = []
    ids: set[str] = set()
    for entry, entry_node in zip(entries, entry_nodes.value, strict=True):
        sig = _signature(entry, entry_node, family, name, known_patterns)
        if sig.id in ids:
            raise SignatureError(name, sig.line, "duplicate id in file", sig.id)
        ids.add(sig.id)
        result.append(sig)
    return tuple(result)


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it (its wheels do): several times faster at cold start."""


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """One parse gives both the node tree (for line numbers) and the Python values."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _reject_duplicate_keys(root: yaml.Node | None, name: str) -> None:
    """PyYAML keeps the last of two equal keys; a signature file must not say two things at once."""
    for node in distinct_nodes(root):
        if isinstance(node, yaml.MappingNode):
            seen: set[object] = set()
            for key_node, _value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in seen:
                        raise SignatureError(name, key_node.start_mark.line + 1, f"duplicate key {key_node.value!r}")
                    seen.add(key_node.value)


def distinct_nodes(root: yaml.Node | None) -> Iterator[yaml.Node]:
    """Every node under `root` once. An alias repeats a node where it is used: a walk that followed
    each use would take hours on a 1 KB file of aliases of aliases."""
    stack = [root] if root is not None else []
    visited: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        yield node
        if isinstance(node, yaml.MappingNode):
            stack.extend(value_node for _key_node, value_node in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _child(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for key_node, value_node in node.value:
        if key_node.value == key:
            return value_node  # type: ignore[no-any-return]
    return None


def _line_of(node: yaml.Node, key: str | None = None) -> int:
    if key is not None and isinstance(node, yaml.MappingNode):
        child = _child(node, key)
        if child is not None:
            return int(child.start_mark.line) + 1
    return int(node.start_mark.line) + 1


def _check_keys(
    data: dict[str, Any],
    allowed: tuple[str, ...],
    required: tuple[str, ...],
    name: str,
    line: int,
    sig_id: str | None,
) -> None:
    unknown = sorted(map(str, set(data) - set(allowed)))
    if unknown:
        raise SignatureError(name, line, f"unknown key(s) {', '.join(unknown)}", sig_id)
    missing = [k for k in required if k not in data]
    if missing:
        raise SignatureError(name, line, f"missing key(s) {', '.join(missing)}", sig_id)


def _strings(value: Any, what: str, name: str, line: int, sig_id: str, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SignatureError(name, line, f"`{what}` must be a list of strings", sig_id)
    if not value and not allow_empty:
        raise SignatureError(name, line, f"`{what}` must not be empty", sig_id)
    return tuple(value)


def _prefilter(value: Any, name: str, line: int, sig_id: str) -> tuple[tuple[str, ...], ...]:
    """A list of literals (one group: any of them), or a list of such lists (every group needed).

    Literals may hold whitespace (a newline that a command injection needs): plain fields reach the
    automaton unchanged but for case, and decoded fields as each chain leaves them."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        groups = tuple(_strings(v, "prefilter", name, line, sig_id) for v in value)
    else:
        group = _strings(value, "prefilter", name, line, sig_id, allow_empty=True)
        groups = (group,) if group else ()
    for group in groups:
        for literal in group:
            if not literal or fold(literal) != literal:
                raise SignatureError(name, line, f"prefilter literal {literal!r} must be non-empty, lower case", sig_id)
    return groups


def _signature(entry: Any, node: yaml.Node, family: str, name: str, known_patterns: Container[str]) -> Signature:
    line = _line_of(node)
    if not isinstance(entry, dict) or not isinstance(node, yaml.MappingNode):
        raise SignatureError(name, line, "each signature must be a mapping")
    sig_id = entry.get("id")
    if not isinstance(sig_id, str) or not ID_FORMAT.fullmatch(sig_id):
        raise SignatureError(name, line, f"`id` must look like FW-FAMILY-001, got {sig_id!r}")
    _check_keys(entry, REQUIRED_KEYS + OPTIONAL_KEYS, REQUIRED_KEYS, name, line, sig_id)

    def at(key: str) -> int:
        return _line_of(node, key)

    title = entry["title"]
    if not isinstance(title, str) or not title.strip():
        raise SignatureError(name, at("title"), "`title` must be a non-empty string", sig_id)
    try:
        severity = Severity(entry["severity"])
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise SignatureError(name, at("severity"), f"`severity` must be one of {allowed}", sig_id) from None
    paranoia = entry["paranoia"]
    if type(paranoia) is not int or paranoia not in PARANOIA_LEVELS:  # not True, not 1.0
        raise SignatureError(name, at("paranoia"), "`paranoia` must be 1, 2, 3 or 4", sig_id)
    targets = _strings(entry["targets"], "targets", name, at("targets"), sig_id)
    for target in targets:
        reason = unreachable_target(target)
        if reason is not None:
            raise SignatureError(name, at("targets"), reason, sig_id)
    transforms = _strings(entry["transforms"], "transforms", name, at("transforms"), sig_id, allow_empty=True)
    for transform in transforms:
        if transform not in TRANSFORMS:
            known = ", ".join(TRANSFORMS)
            raise SignatureError(name, at("transforms"), f"unknown transform {transform!r} (known: {known})", sig_id)
    pattern = entry["pattern"]
    if not isinstance(pattern, str) or not pattern:
        raise SignatureError(name, at("pattern"), "`pattern` must be a non-empty string", sig_id)
    try:
        if pattern not in known_patterns:
            regex.compile(pattern)
    except regex.error as exc:
        raise SignatureError(name, at("pattern"), f"pattern does not compile: {exc}", sig_id) from None
    except RecursionError:
        raise SignatureError(name, at("pattern"), "pattern does not compile: nested too deeply", sig_id) from None
    prefilter = _prefilter(entry.get("prefilter", []), name, at("prefilter"), sig_id)
    tags = _strings(entry.get("tags", []), "tags", name, at("tags"), sig_id, allow_empty=True)
    examples = entry["examples"]
    if not isinstance(examples, dict) or set(examples) - {"match", "no_match"}:
        raise SignatureError(name, at("examples"), "`examples` must hold `match` and `no_match` lists", sig_id)
    match = _strings(examples.get("match"), "examples.match", name, at("examples"), sig_id)
    no_match = _strings(examples.get("no_match"), "examples.no_match", name, at("examples"), sig_id)
    return Signature(
        id=sig_id,
        title=title.strip(),
        family=family,
        severity=severity,
        paranoia=int(paranoia),
        targets=targets,
        transforms=transforms,
        pattern=pattern,
        tags=tags,
        match_examples=match,
        no_match_examples=no_match,
        prefilter=prefilter,
        file=name,
        line=line,
    )
