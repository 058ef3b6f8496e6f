#!/usr/bin/env python3
"""CDK entry point: reads firewall.yaml (or the file named by context `config`), builds the stack,
and runs cdk-nag's AWS Solutions and Serverless checks at synth."""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk

from firewall.engine.errors import SignatureError
from infra.config import ConfigError, load_config
from infra.nag import add_checks
from infra.stack import FirewallStack


def main() -> None:
    app = cdk.App()
    config_path = app.node.try_get_context("config") or "firewall.yaml"
    try:
        config = load_config(config_path)
        FirewallStack(
            app,
            config.stack_name,
            config,
            env=cdk.Environment(
                account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
            ),
            description="Event firewall: inspects S3, SQS and DynamoDB stream events before they reach functions",
        )
    except (ConfigError, SignatureError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    add_checks(app)
    app.synth()


if __name__ == "__main__":
    main()
