"""Deploying the CDK app into the local account with the CDK CLI: synth, bootstrap, deploy.

The app is synthesized once into a cloud assembly that `cdk bootstrap` and `cdk deploy` then use
(`--app DIR`), so it is never synthesized twice. The assembly is kept under `build/local-account/`,
keyed by a hash of everything that goes into it (app, infra, firewall code, signatures, samples,
config, pinned requirements, CLI lock file, account and region): a run that changes none of them
skips the synth, which is most of a deployment's time. `--fresh` synthesizes regardless.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
ACCESS_KEY = "testing"
CACHE_DIR = Path("build") / "local-account"
OFFLINE_ENV = {
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "AWS_EC2_METADATA_DISABLED": "true",
    "NODE_NO_WARNINGS": "1",
}
SYNTH_INPUTS = ("app.py", "cdk.json", "cdk.context.json", "requirements.txt", "package-lock.json")
SYNTH_TREES = ("infra", "firewall", "signatures", "samples")
SKIPPED_TREES = ("firewall/local",)
"""Never part of the app (the app does not import the local runner)."""


class DeployError(RuntimeError):
    """A CDK command failed; the message carries the end of its output."""


@dataclass(frozen=True)
class Assembly:
    """A synthesized cloud assembly: its directory, the stack and its template."""

    directory: Path
    stack_name: str
    template: dict[str, Any]
    cached: bool

    def asset_directory(self, asset_hash: str) -> Path | None:
        path = self.directory / f"asset.{asset_hash}"
        return path if path.is_dir() else None


def aws_environment(endpoint: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every AWS client of the local account uses: the endpoint, dummy credentials,
    the region, no profile or instance metadata, nothing that reaches beyond loopback."""
    env = dict(os.environ if base is None else base)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(name, None)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "CDK_DEFAULT_ACCOUNT": ACCOUNT,
            "CDK_DEFAULT_REGION": REGION,
            **OFFLINE_ENV,
        }
    )
    return env


class Cdk:
    """Runs the project's pinned CDK CLI (`npx --no-install cdk`, from any folder: `--prefix`) with its
    output to a log file."""

    def __init__(self, project: Path, env: dict[str, str], log_dir: Path, config: str | None = None) -> None:
        self.project = project
        self.env = env
        self.log_dir = log_dir
        self.config = config
        self.running: list[subprocess.Popen[bytes]] = []

    def _context(self) -> list[str]:
        return ["--context", f"config={self.config}"] if self.config else []

    def start(self, name: str, args: list[str], cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """Starts `cdk ARGS` (logging to LOG_DIR/NAME.log); `finish` waits for it."""
        if shutil.which("npx") is None:
            raise DeployError("Node.js is needed for the CDK CLI (npx is not on PATH)")
        if not (self.project / "node_modules" / ".bin" / "cdk").exists():
            raise DeployError("the CDK CLI is not installed: run `make setup` (npm ci)")
        log = (self.log_dir / f"{name}.log").open("wb")
        try:
            process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
                ["npx", "--prefix", str(self.project), "--no-install", "cdk", *args, "--no-notices", "--ci"],  # noqa: S607
                cwd=cwd or self.project,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        self.running.append(process)
        return process

    def finish(self, name: str, process: subprocess.Popen[bytes], wait: Callable[[], None] | None = None) -> None:
        while process.poll() is None:
            if wait:
                wait()
            else:
                time.sleep(0.1)
        self.running.remove(process)
        if process.returncode != 0:
            raise DeployError(f"cdk {name} failed (exit {process.returncode}):\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 25) -> str:
        text = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
        return "\n".join("    " + line for line in text[-lines:])

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.running.clear()

    # -- the three steps -----------------------------------------------------------------------

    def synth_command(self, output: Path) -> list[str]:
        return ["synth", "--quiet", "--output", str(output), *self._context()]

    def bootstrap_command(self) -> list[str]:
        return ["bootstrap", f"aws://{ACCOUNT}/{REGION}"]

    def deploy_command(self, assembly: Path, stack: str) -> list[str]:
        return ["deploy", stack, "--app", str(assembly), "--require-approval", "never"]


# -- the assembly cache -------------------------------------------------------------------------


def _files(project: Path, config: str | None) -> Iterator[Path]:
    names = [*SYNTH_INPUTS, config or "firewall.yaml"]
    for name in names:
        path = project / name
        if path.is_file():
            yield path
    skipped = [project / s for s in SKIPPED_TREES]
    for tree in SYNTH_TREES:
        for path in sorted((project / tree).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            if path.name.startswith(".") or any(path.is_relative_to(s) for s in skipped):
                continue
            yield path


def assembly_key(project: Path, config: str | None) -> str:
    """Changes whenever the synthesized assembly could."""
    digest = hashlib.sha256()
    for path in _files(project, config):
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes() + b"\0")
    wheelhouse = project / ".venv" / "lambda-wheels"
    if wheelhouse.is_dir():
        digest.update("\n".join(sorted(p.name for p in wheelhouse.glob("*.whl"))).encode())
    for package in ("aws-cdk-lib", "cdk-nag", "constructs"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{package}=={metadata.version(package)}".encode())
    digest.update(f"{ACCOUNT}/{REGION}/{sys.version_info[:2]}".encode())
    return digest.hexdigest()[:20]


def cached_assembly(project: Path, key: str) -> Path | None:
    directory = project / CACHE_DIR / f"assembly-{key}"
    return directory if (directory / ".complete").is_file() else None


def new_assembly_dir(project: Path, key: str) -> tuple[Path, Path]:
    """(a fresh directory to synthesize into, where it goes once complete)."""
    cache = project / CACHE_DIR
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".synth-{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    return staging, cache / f"assembly-{key}"


def keep_assembly(staging: Path, final: Path) -> Path:
    """Marks the synth complete and moves it into place; older assemblies are removed."""
    (staging / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    if final.exists():
        shutil.rmtree(staging, ignore_errors=True)  # another run finished the same synth first
    else:
        try:
            staging.rename(final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    for other in final.parent.glob("assembly-*"):
        if other != final:
            shutil.rmtree(other, ignore_errors=True)
    return final


def load_assembly(directory: Path, cached: bool) -> Assembly:
    manifest = json.loads((directory / "manifest.json").read_text())
    stacks = [
        (name, artifact)
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    ]
    if len(stacks) != 1:
        raise DeployError(f"expected one stack in the app, found {len(stacks)}: {[n for n, _ in stacks]}")
    name, artifact = stacks[0]
    template_file = artifact.get("properties", {}).get("templateFile", f"{name}.template.json")
    template = json.loads((directory / template_file).read_text())
    stack_name = artifact.get("properties", {}).get("stackName", name)
    return Assembly(directory, stack_name, template, cached)
