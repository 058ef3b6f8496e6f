"""The inspection function's code asset, bundled on this machine without Docker.

pip installs the runtime requirements as wheels for the Lambda platform (arm64, the function's
Python version) into the asset, from the wheelhouse `make setup` fills so that synth works offline;
then the runtime parts of `firewall/` and the signature set are copied beside them. The CLI, the
local account and every development tool stay out of the bundle.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from firewall.api import Firewall

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = PROJECT_ROOT / ".venv" / "lambda-wheels"
LAMBDA_PYTHON = "3.14"
LAMBDA_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")
"""Wheel tags the runtime takes: Amazon Linux 2023 has glibc 2.34. google-re2 builds its arm64
wheels for glibc 2.28 only."""
RUNTIME_PACKAGES = ("engine", "sources", "runtime")
RUNTIME_MODULES = ("__init__.py", "api.py", "pattern_cache.py")


def pip_platform_args() -> list[str]:
    return [
        *(argument for platform in LAMBDA_PLATFORMS for argument in ("--platform", platform)),
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON,
        "--only-binary=:all:",
    ]


def fill_wheelhouse(requirements: Path = PROJECT_ROOT / "requirements.txt", wheelhouse: Path = WHEELHOUSE) -> None:
    """Download the Lambda platform's wheels (run by `make setup`, while the network is there)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            *pip_platform_args(),
            "-r",
            str(requirements),
            "-d",
            str(wheelhouse),
        ],
        check=True,
    )


def _runtime_files(root: Path, signatures: Path) -> list[tuple[Path, Path]]:
    """(source, path inside the bundle) for every file the function needs."""
    files = [(root / "firewall" / name, Path("firewall") / name) for name in RUNTIME_MODULES]
    for package in RUNTIME_PACKAGES:
        for path in sorted((root / "firewall" / package).rglob("*.py")):
            files.append((path, Path("firewall") / package / path.relative_to(root / "firewall" / package)))
    for path in sorted([*signatures.glob("*.yaml"), *signatures.glob("*.yml")]):
        files.append((path, Path("signatures") / path.name))
    return files


def asset_hash(root: Path, signatures: Path, requirements: Path) -> str:
    """Changes exactly when the bundle's content would: code, signatures or pinned requirements."""
    digest = hashlib.sha256(requirements.read_bytes())
    for source, inside in _runtime_files(root, signatures):
        digest.update(str(inside).encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class LocalBundling:
    def __init__(self, root: Path, signatures: Path, requirements: Path, wheelhouse: Path) -> None:
        self.root = root
        self.signatures = signatures
        self.requirements = requirements
        self.wheelhouse = wheelhouse

    def try_bundle(self, output_dir: str, *, image: Any = None, **_: Any) -> bool:
        out = Path(output_dir)
        offline = self.wheelhouse.is_dir() and any(self.wheelhouse.glob("*.whl"))
        source = ["--no-index", "--find-links", str(self.wheelhouse)] if offline else []
        subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *pip_platform_args(),
                *source,
                "--target",
                str(out),
                "-r",
                str(self.requirements),
            ],
            check=True,
        )
        for source_path, inside in _runtime_files(self.root, self.signatures):
            destination = out / inside
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_path, destination)
        # Writes the pattern cache that keeps cold starts short. At paranoia 4 every signature is
        # compiled, so the screen's relaxed forms are cached for whatever level a route runs at.
        Firewall.load(out / "signatures", paranoia=4)
        return True


def firewall_code(
    signatures: Path | None = None,
    *,
    root: Path = PROJECT_ROOT,
    requirements: Path | None = None,
    wheelhouse: Path = WHEELHOUSE,
) -> lambda_.Code:
    signatures = signatures or root / "signatures"
    requirements = requirements or root / "requirements.txt"
    return lambda_.Code.from_asset(
        str(root / "firewall"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(root, signatures, requirements),
        bundling=BundlingOptions(
            image=DockerImage.from_registry("local-bundling-only"),
            local=LocalBundling(root, signatures, requirements, wheelhouse),
        ),
    )


if __name__ == "__main__":
    fill_wheelhouse()
