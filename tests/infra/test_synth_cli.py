"""`npx cdk synth` as a user runs it (`make synth`): offline, without AWS credentials, bundling the
function's asset without Docker. One run for the module."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cdk_support import ROOT

pytestmark = pytest.mark.skipif(shutil.which("npx") is None, reason="Node.js is required for the CDK CLI")


@pytest.fixture(scope="module")
def synth_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cdk-cli-out")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_DEFAULT"))}
    dead_proxy = "http://127.0.0.1:9"  # nothing listens there: any network access fails
    env.update(
        HTTP_PROXY=dead_proxy,
        HTTPS_PROXY=dead_proxy,
        NO_PROXY="",
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        PIP_NO_INDEX="1",
    )
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--no-notices", "--quiet", "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _bundle(out: Path) -> Path:
    manifest = json.loads((out / "EventFirewall.assets.json").read_text())
    for asset in manifest["files"].values():
        path = out / asset["source"]["path"]
        if (path / "firewall" / "runtime" / "handler.py").exists():
            return path
    raise AssertionError("no firewall bundle among the assets")


def test_synth_writes_the_template_offline_without_credentials(synth_out: Path) -> None:
    template = json.loads((synth_out / "EventFirewall.template.json").read_text())
    assert any(r["Type"] == "AWS::Lambda::Function" for r in template["Resources"].values())


def test_bundle_holds_the_runtime_the_signatures_and_arm64_wheels(synth_out: Path) -> None:
    bundle = _bundle(synth_out)
    assert (bundle / "firewall" / "engine" / "matcher.py").exists()
    assert sorted(p.name for p in (bundle / "signatures").glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "signatures").glob("*.yaml")
    )
    native = list(bundle.glob("ahocorasick*.so"))
    assert native and "aarch64" in native[0].name and "314" in native[0].name
    assert (bundle / "regex").is_dir() and (bundle / "yaml").is_dir()
    screen = list((bundle / "re2").glob("_re2*.so"))  # google-re2's arm64 wheel is tagged glibc 2.28
    assert screen and "aarch64" in screen[0].name and "314" in screen[0].name


def test_bundle_caches_the_relaxed_form_of_every_signature(synth_out: Path) -> None:
    """Whatever paranoia a route runs at, its cold start finds every pattern's screen forms cached."""
    from firewall.engine.loader import load_directory

    cache = json.loads((_bundle(synth_out) / "signatures" / ".pattern-cache.json").read_text())
    patterns = {sig.pattern for sig in load_directory(ROOT / "signatures")}
    assert patterns <= set(cache["relaxed"])
    assert all(cache["relaxed"][pattern] is not None for pattern in patterns)


def test_bundle_carries_nothing_the_runtime_does_not_need(synth_out: Path) -> None:
    bundle = _bundle(synth_out)
    for unwanted in ("boto3", "botocore", "moto", "aws_cdk", "pytest", "firewall/local", "firewall/cli.py", "infra"):
        assert not (bundle / unwanted).exists(), unwanted


def test_the_bundled_package_imports_and_loads_its_signatures(synth_out: Path, tmp_path: Path) -> None:
    """The handler's import graph must be inside the bundle (native wheels are arm64, so the check
    borrows only regex, PyYAML and pyahocorasick from this machine)."""
    bundle = _bundle(synth_out)
    for part in ("firewall", "signatures"):
        shutil.copytree(bundle / part, tmp_path / part)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import firewall, firewall.runtime.handler as h;"
        "assert firewall.__file__.startswith(sys.argv[1]), firewall.__file__;"
        "from firewall import Firewall; fw = Firewall.load();"
        "print(len(fw.signatures), fw.inspect(\"1' UNION SELECT password FROM users--\").action)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    count, action = result.stdout.split()
    assert int(count) > 100 and action == "quarantine"
