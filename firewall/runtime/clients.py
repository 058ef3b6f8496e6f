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


def aws_client(service: str, **overrides: Any) -> Any:
    """A client configured from the environment (region, credentials, `AWS_ENDPOINT_URL`)."""
    return boto3.session.Session().client(service, config=CLIENT_CONFIG, **overrides)
