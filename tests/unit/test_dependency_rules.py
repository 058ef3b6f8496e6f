"""The dependency rules of DESIGN.md, checked on the source: imports point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "firewall"


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


def _files(sub: str) -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py")) if sub else sorted(PACKAGE.rglob("*.py"))


def _violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_the_package_never_imports_the_cdk_app() -> None:
    assert _violations(_files(""), ("infra", "aws_cdk", "constructs", "cdk_nag")) == []


@pytest.mark.parametrize("layer", ["engine", "sources"])
def test_engine_and_sources_do_no_aws_io(layer: str) -> None:
    assert _violations(_files(layer), ("boto3", "botocore", "firewall.runtime", "firewall.local")) == []


def test_the_engine_does_not_know_the_sources() -> None:
    assert _violations(_files("engine"), ("firewall.sources", "firewall.api")) == []


def test_the_runtime_does_not_reach_up_to_the_command_line_or_local_account() -> None:
    assert _violations(_files("runtime"), ("firewall.cli", "firewall.local", "firewall.review")) == []


def test_the_check_sees_relative_imports() -> None:
    assert "firewall.engine.model" in _imports(PACKAGE / "engine" / "loader.py")
