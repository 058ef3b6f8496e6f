"""Fixtures of the quarantine review tests: a moto server process for the session (reset before every
test), boto3 clients pointed at it, and target functions run here through `LocalTargets`, attached
to the very Lambda client that `firewall quarantine release` uses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from review_support import QUARANTINE, REGION, UPLOADS, Account, Session, free_port, post

from firewall.local.targets import LocalTargets
from firewall.review.commands import Clients


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """`moto_server` on a free port for the whole session."""
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    command = [str(server)] if server.exists() else [sys.executable, "-m", "moto.server"]
    process = subprocess.Popen(
        [*command, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto server exited with status {process.returncode}")
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail("moto server did not answer within 20 s")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def session(moto_url: str) -> Session:
    """Clients made once (making boto3 clients is slow); each test resets the account and targets."""
    boto = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    targets = LocalTargets()
    lambda_client = targets.attach(boto.client("lambda", endpoint_url=moto_url))
    return Session(
        moto_url,
        boto.client("s3", endpoint_url=moto_url),
        lambda_client,
        boto.client("sts", endpoint_url=moto_url),
        targets,
    )


@pytest.fixture
def account(session: Session, monkeypatch: pytest.MonkeyPatch) -> Account:
    post(session.url + "/moto-api/reset")
    post(session.url + "/moto-api/config", {"lambda": {"use_docker": False}})
    session.targets.handlers.clear()
    session.targets.invocations.clear()
    for name in list(os.environ):
        if name.startswith("FIREWALL_") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_ENDPOINT_URL": session.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        monkeypatch.setenv(name, value)
    for bucket in (QUARANTINE, UPLOADS):
        session.s3.create_bucket(Bucket=bucket)
        session.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    clients = Clients(s3=session.s3, lambda_=session.lambda_, sts=session.sts)
    return Account(session, clients)
