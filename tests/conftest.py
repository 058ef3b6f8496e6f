"""Fixtures shared by the suites that need an AWS account on this machine (functional, review)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from firewall.local.server import MotoServer


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server process on a free port, for the whole session; its URL. The same launcher as
    `firewall local`. Started only by the suites that ask for it."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
