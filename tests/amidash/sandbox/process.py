"""A `manage.py sandbox` server in a child process, for the tests that need a real endpoint."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
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
