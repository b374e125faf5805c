"""Sandbox fixtures: `aws` runs each test twice, in-process and against a sandbox server.

One server subprocess (`manage.py sandbox --port 0 --estate empty`) serves the whole session; it
starts the first time a server-mode test needs it and is reset before each test, so tests never
see each other's state. In-process tests never start it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amidash.sandbox import Sandbox, connect, sandbox
from tests.amidash.sandbox.process import SandboxProcess


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[str]:
    """The endpoint URL of a sandbox server shared by the session (empty estate)."""
    server = SandboxProcess("--port", "0", "--estate", "empty")
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def inprocess_aws() -> Iterator[Sandbox]:
    """The sandbox in this process only (fast; for tests that need no server)."""
    with sandbox() as handle:
        yield handle


@pytest.fixture
def server_aws(sandbox_server: str) -> Iterator[Sandbox]:
    """The session's sandbox server, reset, with AWS configuration pointing at it."""
    with connect(sandbox_server) as handle:
        handle.reset()
        yield handle


@pytest.fixture(params=["inprocess", "server"])
def aws(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The sandbox, once in-process and once as a server: both must behave the same."""
    if request.param == "inprocess":
        with sandbox() as handle:
            yield handle
    else:
        yield request.getfixturevalue("server_aws")
