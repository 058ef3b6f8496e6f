"""Apps built the way `cdk synth` builds them: with cdk.json's feature flags (and, unless asked,
without bundling the asset, which costs seconds and is tested on its own)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk

ROOT = Path(__file__).resolve().parents[2]


def cdk_context(bundle: bool = False) -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    if not bundle:
        context = {**context, "aws:cdk:bundling-stacks": []}
    return context


def new_app(tmp: Path, bundle: bool = False) -> cdk.App:
    return cdk.App(outdir=str(tmp), context=cdk_context(bundle))
