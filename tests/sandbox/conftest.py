"""Sandbox fixtures: `aws` runs each test twice, in-process and against a sandbox server.

One server subprocess (`manage.py sandbox --port 0 --estate empty`) serves the whole session; it
starts the first time a server-mode test needs it and is reset before each test, so tests never
see each other's state. In-process tests never start it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from amidash.sandbox import Sandbox, connect, sandbox

REPOSITORY = Path(__file__).resolve().parents[2]
ENDPOINT = re.compile(r"ready at (http://127\.0\.0\.1:\d+)")
STARTUP_SECONDS = 120


class SandboxProcess:
    """A `manage.py sandbox` child process and the endpoint it printed."""

    def __init__(self, *arguments: str) -> None:
        env = {**os.environ, "DEBUG": "true", "PYTHONUNBUFFERED": "1"}
        env.pop("AWS_ENDPOINT_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "sandbox", *arguments],
            cwd=REPOSITORY,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        self.endpoint = self._wait_for_endpoint()

    def _wait_for_endpoint(self) -> str:
        found = threading.Event()
        endpoint: list[str] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                match = ENDPOINT.search(line)
                if match and not endpoint:
                    endpoint.append(match.group(1))
                    found.set()
            found.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        found.wait(STARTUP_SECONDS)
        if not endpoint:
            self.stop()
            raise RuntimeError("the sandbox server did not start:\n" + "".join(self.output))
        return endpoint[0]

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=5)  # the last lines it printed
        if self.process.stdout is not None and not self.reader.is_alive():
            self.process.stdout.close()
        return self.process.returncode


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
