"""One synthesized stack per test module: synth costs seconds."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")
