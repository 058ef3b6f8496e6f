"""boto3 clients with bounded retries and timeouts, so a slow dependency cannot eat the whole
function timeout. boto3 is imported here only: the engine and sources never need it."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=3,
    read_timeout=30,
    tcp_keepalive=True,
)


NO_RETRY = {"total_max_attempts": 1, "mode": "standard"}
"""One attempt, no retry (botocore's `max_attempts: 1` still allows one retry)."""
TARGET_INVOKE_CONFIG = CLIENT_CONFIG.merge(Config(read_timeout=910, retries=NO_RETRY))
"""For invoking the target: a target may run up to 900 s, and botocore retries an invoke whose answer
is late, which runs the target again on the same records while the first run goes on."""


def aws_client(service: str, config: Config = CLIENT_CONFIG, **overrides: Any) -> Any:
    """A client configured from the environment (region, credentials, `AWS_ENDPOINT_URL`)."""
    return boto3.session.Session().client(service, config=config, **overrides)
