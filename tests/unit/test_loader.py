"""Signature files: valid ones load with their lines; every malformed one is rejected whole, with
path, line, signature id and reason in the message."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from firewall import Firewall
from firewall.engine.errors import FirewallError, SignatureError
from firewall.engine.loader import load_directory, load_file, parse_text
from firewall.engine.model import Severity

TEMPLATE = """\
family: unit
signatures:
  - id: FW-UNIT-001
    title: Template signature
    severity: high
    paranoia: 1
    targets: [any]
    transforms: [url_decode, lowercase]
    pattern: 'attack'
    examples:
      match: [attack]
      no_match: [benign]
"""


def _reject(text: str) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        parse_text(text, "unit.yaml")
    return info.value


# --- valid files ----------------------------------------------------------------------------------


def test_valid_file_loads_every_field(fixtures_dir: Path) -> None:
    path = fixtures_dir / "good" / "basic.yaml"
    sigs = load_file(path)
    assert [s.id for s in sigs] == ["FW-TEST-001", "FW-TEST-002", "FW-TEST-003", "FW-TEST-004"]
    first = sigs[0]
    assert first.family == "test"
    assert first.title == "Script tag"
    assert first.severity is Severity.CRITICAL
    assert first.paranoia == 1
    assert first.targets == ("any",)
    assert first.transforms == ("url_decode", "html_entity_decode", "lowercase")
    assert first.pattern == r"<script\b"
    assert first.tags == ("cwe-79",)
    assert first.match_examples == ("<script>alert(1)</script>", "%3CSCRIPT%3E", "&lt;script src=x&gt;")
    assert first.no_match_examples == ("a script for the play", "<scripture>")
    assert first.prefilter == ()
    assert sigs[1].targets == ("s3.key",)
    assert sigs[2].paranoia == 2
    assert sigs[3].prefilter == (("passwd",),)


def test_each_signature_knows_its_file_and_line(fixtures_dir: Path, find_line: Callable[..., int]) -> None:
    path = fixtures_dir / "good" / "basic.yaml"
    for sig in load_file(path):
        assert sig.file == str(path)
        assert sig.line == find_line(path, f"- id: {sig.id}")


def test_directory_loads_yaml_and_yml_files_in_name_order(fixtures_dir: Path) -> None:
    sigs = load_directory(fixtures_dir / "good")
    assert [s.id for s in sigs] == ["FW-TEST-001", "FW-TEST-002", "FW-TEST-003", "FW-TEST-004", "FW-TESTMORE-001"]
    assert sigs[-1].file.endswith("more.yml")


def test_load_directory_accepts_a_single_file(fixtures_dir: Path) -> None:
    assert [s.id for s in load_directory(fixtures_dir / "good" / "more.yml")] == ["FW-TESTMORE-001"]


def test_optional_keys_and_a_description_are_accepted() -> None:
    text = TEMPLATE.replace("family: unit\n", "family: unit\ndescription: file level\n").replace(
        "    title:", "    description: why\n    tags: [a]\n    prefilter: [attack]\n    title:"
    )
    (sig,) = parse_text(text)
    assert sig.prefilter == (("attack",),)
    assert sig.tags == ("a",)


def test_prefilter_literals_may_hold_whitespace() -> None:
    """A newline is what a newline command injection needs; the matcher keeps whitespace literals
    sound (plain fields reach it unchanged but for case)."""
    (sig,) = parse_text(TEMPLATE.replace("    title:", "    prefilter: [[\"\\n\", \"\\r\"]]\n    title:"))
    assert sig.prefilter == (("\n", "\r"),)


def test_prefilter_groups_must_all_be_present() -> None:
    sigs = parse_text(
        "family: t\nsignatures:\n  - id: FW-T-001\n    title: t\n    severity: critical\n    paranoia: 1\n"
        "    targets: [any]\n    transforms: [lowercase]\n    pattern: 'curl'\n"
        "    prefilter: [[';', '|'], [curl]]\n    examples: {match: ['; curl x'], no_match: [curl]}\n",
        "t.yaml",
    )
    assert sigs[0].prefilter == ((";", "|"), ("curl",))
    firewall = Firewall(sigs)
    assert firewall.inspect("x; curl evil").detected
    assert not firewall.inspect("curl evil").detected  # the pattern would match: the groups gate it


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_every_paranoia_level_is_accepted(level: int) -> None:
    (sig,) = parse_text(TEMPLATE.replace("paranoia: 1", f"paranoia: {level}"))
    assert sig.paranoia == level


def test_empty_transform_list_is_allowed() -> None:
    (sig,) = parse_text(TEMPLATE.replace("[url_decode, lowercase]", "[]"))
    assert sig.transforms == ()


# --- malformed fixture files: (file, marker of the offending line, id, reason) ----------------------

MALFORMED = [
    ("bad_yaml.yaml", "title: colon trouble", None, "invalid YAML"),
    ("missing_key.yaml", "- id: FW-BAD-002", "FW-BAD-002", "missing key(s) pattern"),
    ("unknown_key.yaml", "- id: FW-BAD-002", "FW-BAD-002", "unknown key(s) patern"),
    ("bad_severity.yaml", "severity: severe", "FW-BAD-002", "`severity` must be one of"),
    ("paranoia_zero.yaml", "paranoia: 0", "FW-BAD-002", "`paranoia` must be"),
    ("bad_id.yaml", "- id: FW-bad-2", "FW-bad-2", "`id` must look like"),
    ("duplicate_id.yaml", "Same id twice", "FW-BAD-001", "duplicate id"),
    ("unknown_transform.yaml", "rot13", "FW-BAD-002", "unknown transform 'rot13'"),
    ("bad_regex.yaml", "pattern: (?:union", "FW-BAD-002", "does not compile"),
    ("empty_examples.yaml", "match: []", "FW-BAD-002", "must not be empty"),
    ("prefilter_upper.yaml", "prefilter: [Select]", "FW-BAD-002", "lower case"),
    ("missing_family.yaml", "signatures:", None, "missing key(s) family"),
]


@pytest.mark.parametrize(("name", "marker", "sig_id", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_is_rejected_with_path_line_id_and_reason(
    fixtures_dir: Path, find_line: Callable[..., int], name: str, marker: str, sig_id: str | None, reason: str
) -> None:
    path = fixtures_dir / "malformed" / name
    expected_line = find_line(path, marker)
    if name == "duplicate_id.yaml":
        expected_line -= 1  # the second definition's `- id:` line, just above its title
    with pytest.raises(SignatureError) as info:
        load_file(path)
    error = info.value
    message = str(error)
    assert message.startswith(f"{path}:{expected_line}")
    assert error.path == str(path)
    assert error.line == expected_line
    assert reason in message
    assert error.reason in message
    if sig_id is not None:
        assert sig_id in message


def test_malformed_files_are_rejected_whole_even_after_valid_signatures(fixtures_dir: Path) -> None:
    # Each malformed file starts with a valid FW-BAD-001: nothing of it may be returned.
    path = fixtures_dir / "malformed" / "bad_regex.yaml"
    assert "FW-BAD-001" in path.read_text()
    with pytest.raises(SignatureError):
        load_file(path)


def test_one_bad_file_rejects_the_whole_directory(fixtures_dir: Path, tmp_path: Path) -> None:
    shutil.copy(fixtures_dir / "good" / "basic.yaml", tmp_path / "a_good.yaml")
    shutil.copy(fixtures_dir / "malformed" / "unknown_transform.yaml", tmp_path / "b_bad.yaml")
    with pytest.raises(SignatureError) as info:
        load_directory(tmp_path)
    assert info.value.path == str(tmp_path / "b_bad.yaml")


def test_signature_error_is_a_firewall_error() -> None:
    assert issubclass(SignatureError, FirewallError)


# --- duplicates across files, empty and missing paths -----------------------------------------------


def test_duplicate_id_across_files_names_both_places(fixtures_dir: Path, find_line: Callable[..., int]) -> None:
    first = fixtures_dir / "duplicate_across" / "a.yaml"
    second = fixtures_dir / "duplicate_across" / "b.yaml"
    with pytest.raises(SignatureError) as info:
        load_directory(fixtures_dir / "duplicate_across")
    error = info.value
    assert error.path == str(second)
    assert error.line == find_line(second, "- id: FW-DUP-001")
    assert error.signature_id == "FW-DUP-001"
    assert f"{first}:{find_line(first, '- id: FW-DUP-001')}" in str(error)
    assert "duplicate id" in str(error)


def test_empty_directory_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a signature file")
    with pytest.raises(SignatureError) as info:
        load_directory(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert "no signatures" in str(info.value)


def test_missing_path_is_rejected(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SignatureError) as info:
        load_directory(missing)
    assert str(missing) in str(info.value)


def test_file_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(TEMPLATE.replace("Template", "Caf\xe9").encode("latin-1"))
    with pytest.raises(SignatureError) as info:
        load_file(path)
    assert str(path) in str(info.value)


# --- malformed text, case by case -------------------------------------------------------------------


@pytest.mark.parametrize("paranoia", ["0", "5", "true", "'1'", "-1", "null", "1.0", "2.0"])
def test_paranoia_outside_1_to_4_is_rejected(paranoia: str) -> None:
    error = _reject(TEMPLATE.replace("paranoia: 1", f"paranoia: {paranoia}"))
    assert error.line == 6
    assert error.signature_id == "FW-UNIT-001"
    assert "paranoia" in error.reason


@pytest.mark.parametrize("severity", ["severe", "CRITICAL", "5", "null", "[high]"])
def test_unknown_severity_is_rejected(severity: str) -> None:
    error = _reject(TEMPLATE.replace("severity: high", f"severity: {severity}"))
    assert error.line == 5
    assert "severity" in error.reason


@pytest.mark.parametrize("key", ["title", "severity", "paranoia", "targets", "transforms", "pattern", "examples"])
def test_each_required_key_is_required(key: str) -> None:
    lines = TEMPLATE.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"    {key}:"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("      "):
        end += 1  # the key's nested lines (examples)
    error = _reject("".join(lines[:start] + lines[end:]))
    assert error.line == 3  # the signature's own line
    assert error.signature_id == "FW-UNIT-001"
    assert f"missing key(s) {key}" in error.reason


def test_missing_id_is_rejected() -> None:
    error = _reject(TEMPLATE.replace("  - id: FW-UNIT-001\n    title", "  - title"))
    assert error.line == 3
    assert "id" in error.reason


@pytest.mark.parametrize("sig_id", ["FW-UNIT-1", "fw-unit-001", "UNIT-001", "FW-UNIT-001x", "FW--001", "'FW UNIT 001'"])
def test_malformed_id_is_rejected(sig_id: str) -> None:
    error = _reject(TEMPLATE.replace("id: FW-UNIT-001", f"id: {sig_id}"))
    assert error.line == 3
    assert "id" in error.reason


@pytest.mark.parametrize(
    ("examples", "reason"),
    [
        ("examples: {}", "examples.match"),
        ("examples: {match: [], no_match: [x]}", "must not be empty"),
        ("examples: {match: [x], no_match: []}", "must not be empty"),
        ("examples: {match: [x]}", "examples.no_match"),
        ("examples: {match: [x], no_match: [y], maybe: [z]}", "examples"),
        ("examples: [x, y]", "examples"),
        ("examples: {match: [1], no_match: [y]}", "list of strings"),
    ],
)
def test_bad_examples_are_rejected(examples: str, reason: str) -> None:
    text = TEMPLATE.split("    examples:")[0] + f"    {examples}\n"
    error = _reject(text)
    assert error.line == 10
    assert reason in error.reason


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        ("targets: [any]", "targets: []", 7, "`targets` must not be empty"),
        ("targets: [any]", "targets: any", 7, "`targets` must be a list"),
        ("targets: [any]", "targets: [Any]", 7, "did you mean `any`?"),
        ("targets: [any]", "targets: [sqs.body, sqs.bdy]", 7, "after `sqs.` comes one of"),
        ("targets: [any]", "targets: [s3.kye]", 7, "after `s3.` comes one of bucket, key"),
        ("targets: [any]", "targets: [body.*]", 7, "paths start with s3, sqs"),
        ("pattern: 'attack'", "pattern: '" + "(" * 1_000 + "a" + ")" * 1_000 + "'", 9, "nested too deeply"),
        ("title: Template signature", "title: '  '", 4, "`title`"),
        ("pattern: 'attack'", "pattern: ''", 9, "`pattern`"),
        ("pattern: 'attack'", "pattern: '[a-'", 9, "does not compile"),
        ("pattern: 'attack'", "pattern: 'a{2,1}'", 9, "does not compile"),
        ("pattern: 'attack'", "pattern: '*a'", 9, "does not compile"),
        ("[url_decode, lowercase]", "[url_decode, Lowercase]", 8, "unknown transform 'Lowercase'"),
        ("[url_decode, lowercase]", "url_decode", 8, "`transforms` must be a list"),
        ("    title:", "    prefilter: ['']\n    title:", 4, "prefilter"),
        ("    title:", "    prefilter: [UNION]\n    title:", 4, "lower case"),
        ("    title:", "    tags: tag\n    title:", 4, "`tags`"),
    ],
)
def test_bad_values_are_rejected_at_their_line(old: str, new: str, line: int, reason: str) -> None:
    assert old in TEMPLATE
    error = _reject(TEMPLATE.replace(old, new, 1))
    assert error.line == line
    assert error.signature_id == "FW-UNIT-001"
    assert reason in error.reason
    assert str(error).startswith(f"unit.yaml:{line} [FW-UNIT-001]: ")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "mapping"),
        ("- just\n- a list\n", "mapping"),
        ("family: unit\n", "missing key(s) signatures"),
        ("family: unit\nsignatures: []\n", "non-empty list"),
        ("family: Unit Tests\nsignatures: []\n", "family"),
        (TEMPLATE.replace("family: unit", "family: unit\nversion: 2"), "unknown key(s) version"),
        (TEMPLATE + "---\nfamily: other\n", "invalid YAML"),
        ("family: unit\nsignatures:\n  - just a string\n", "mapping"),
    ],
)
def test_bad_file_structure_is_rejected(text: str, reason: str) -> None:
    error = _reject(text)
    assert reason in error.reason
    assert str(error).startswith("unit.yaml")


@pytest.mark.parametrize(
    "targets",
    [
        "[sqs.body, sqs.attributes.*]",
        "['*.body']",
        "[value.user]",
        "[eventbridge.detail.anything]",
        "[s3.object.disguised]",
        "['[sd]*.body']",
        "['sqs.*']",
        "['sqs.body[0]']",
        "[dynamodb.NewImage.name, sns.message, kinesis.data]",
    ],
)
def test_targets_that_may_match_a_field_are_accepted(targets: str) -> None:
    (sig,) = parse_text(TEMPLATE.replace("targets: [any]", f"targets: {targets}"), "unit.yaml")
    assert not sig.applies_everywhere


def test_a_file_of_aliases_of_aliases_is_walked_once_per_node() -> None:
    """Ten levels of ten aliases each name 10**10 values; the duplicate-key check visits the
    eleven lists there are (walking every use would take hours)."""
    import yaml

    from firewall.engine.loader import distinct_nodes

    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 11)]
    root = yaml.compose("\n".join(levels))
    assert sum(isinstance(node, yaml.SequenceNode) for node in distinct_nodes(root)) == 11
    assert "unknown key(s) a0, a1" in _reject(TEMPLATE + "\n".join(levels) + "\n").reason


def test_a_description_must_be_a_string() -> None:
    error = _reject(TEMPLATE.replace("family: unit", "family: unit\ndescription: [1, 2]"))
    assert error.line == 2 and "`description` must be a string" in error.reason


def test_duplicate_id_in_one_text_points_at_the_second() -> None:
    body = TEMPLATE.split("signatures:\n")[1]
    error = _reject(TEMPLATE + body)
    assert error.line == 3 + len(body.splitlines())
    assert error.signature_id == "FW-UNIT-001"
    assert "duplicate id" in error.reason


def test_unknown_keys_of_mixed_types_are_rejected_cleanly() -> None:
    error = _reject(TEMPLATE.replace("    title:", "    1: one\n    zzz: two\n    title:"))
    assert "unknown key" in error.reason


def test_duplicate_key_in_a_signature_is_rejected() -> None:
    error = _reject(TEMPLATE.replace("    pattern: 'attack'", "    pattern: 'attack'\n    pattern: 'zzz'"))
    assert error.line == 10
    assert "duplicate key" in error.reason
