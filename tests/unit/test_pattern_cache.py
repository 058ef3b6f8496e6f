"""The pattern cache must make loads faster without ever changing what a load accepts or derives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import regex

from firewall import Firewall, SignatureError
from firewall.api import DEFAULT_SIGNATURES
from firewall.pattern_cache import FILE_NAME


@pytest.fixture
def signature_dir(tmp_path: Path) -> Path:
    target = tmp_path / "signatures"
    shutil.copytree(DEFAULT_SIGNATURES, target, ignore=shutil.ignore_patterns(FILE_NAME))
    return target


def _count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    compiled: list[str] = []
    original = regex.compile

    def counting(pattern: str, *args: object, **kwargs: object) -> regex.Pattern[str]:
        compiled.append(pattern)
        return original(pattern, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("firewall.engine.loader.regex.compile", counting)
    return compiled


def test_second_load_compiles_no_signature_pattern(signature_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _count_compiles(monkeypatch)
    first = Firewall.load(signature_dir)
    assert (signature_dir / FILE_NAME).is_file()
    patterns = {s.pattern for s in first.signatures}
    assert patterns <= set(compiled)
    compiled.clear()
    second = Firewall.load(signature_dir)
    assert not patterns & set(compiled)
    assert [c.literals for c in first.rules.signatures] == [c.literals for c in second.rules.signatures]
    assert second.inspect("1 UNION SELECT password FROM users").detected


def test_an_edited_pattern_is_checked_again(signature_dir: Path) -> None:
    Firewall.load(signature_dir)
    victim = sorted(signature_dir.glob("*.yaml"))[0]
    text = victim.read_text()
    first_pattern_line = next(line for line in text.splitlines() if line.strip().startswith("pattern:"))
    victim.write_text(text.replace(first_pattern_line, "    pattern: 'broken('", 1))
    with pytest.raises(SignatureError, match="pattern does not compile"):
        Firewall.load(signature_dir)


def test_a_cache_from_another_engine_or_a_corrupt_one_is_ignored(signature_dir: Path) -> None:
    Firewall.load(signature_dir)
    cache = signature_dir / FILE_NAME
    data = json.loads(cache.read_text())
    poisoned = {pattern: ["zzz-never-present"] for pattern in data["literals"]}
    cache.write_text(json.dumps({"salt": "other", "valid": data["valid"], "literals": poisoned}))
    assert Firewall.load(signature_dir).inspect("1 UNION SELECT password FROM users").detected
    cache.write_text("{not json")
    assert Firewall.load(signature_dir).inspect("1 UNION SELECT password FROM users").detected


def test_a_read_only_location_still_loads(signature_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr("firewall.pattern_cache.tempfile.mkstemp", refuse)
    assert Firewall.load(signature_dir).inspect("1 UNION SELECT password FROM users").detected
    assert not (signature_dir / FILE_NAME).exists()
