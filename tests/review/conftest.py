"""Fixtures of the quarantine review tests: a moto server process for the session (reset before every
test), boto3 clients pointed at it, and target functions run here through `LocalTargets`, attached
to the very Lambda client that `firewall quarantine release` uses."""

from __future__ import annotations

import os

import boto3
import pytest
from review_support import QUARANTINE, REGION, UPLOADS, Account, Session, post

from firewall.local.targets import LocalTargets
from firewall.review.commands import Clients


@pytest.fixture(scope="session")
def session(moto_server: str) -> Session:
    """Clients made once (making boto3 clients is slow); each test resets the account and targets."""
    boto = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    targets = LocalTargets()
    lambda_client = targets.attach(boto.client("lambda", endpoint_url=moto_server))
    return Session(
        moto_server,
        boto.client("s3", endpoint_url=moto_server),
        lambda_client,
        boto.client("sts", endpoint_url=moto_server),
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
