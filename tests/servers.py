"""Private Redis and PostgreSQL servers that a test may restart, and Celery workers using them.

The shared servers of a test run are never restarted: a test that restarts one starts its own,
on a free port or socket of its own, and stops it afterwards. ``PrivatePostgreSQL`` runs the
PostgreSQL binaries the ``pgserver`` package ships (the embedded database of ``make demo``),
so a machine needs no PostgreSQL installation beyond the project's own dependencies;
``PrivateRedis`` needs ``redis-server`` on the PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# Abandoned (unacknowledged) messages come back after 3 s instead of an hour.
WORKER_MAIN = """
import sys
from amidash.celery import app
app.conf.broker_transport_options = {
    "visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
}
app.worker_main(sys.argv[1:])
"""


@contextmanager
def sandbox_process() -> Iterator[str]:
    """``manage.py sandbox --port 0`` in a subprocess (an empty estate); yields its endpoint."""
    env = os.environ | {"DEBUG": "true", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [PYTHON, "manage.py", "sandbox", "--port", "0", "--estate", "empty"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        endpoint = None
        for line in process.stdout or ():
            match = re.search(r"AWS_ENDPOINT_URL=(\S+)", line)
            if match:
                endpoint = match.group(1)
                break
        assert endpoint, "the sandbox server did not start"
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class PrivateRedis:
    """``redis-server`` on a free port, keeping nothing on disk: a restart loses every queued
    and unacknowledged message, as a Redis without persistence does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until_listening(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_for: float = 1.0) -> None:
        """Stop the server, stay down ``down_for`` seconds, start it again on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()


class PrivatePostgreSQL:
    """A PostgreSQL cluster in a temporary folder, reached through its own Unix socket."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver

        self.folder = Path(tempfile.mkdtemp(prefix="amidash-pg-"))
        os.chmod(self.folder, 0o755)  # as root, the server runs as a user of its own
        self.server = pgserver.get_server(self.folder / "pgdata", cleanup_mode=None)

    def url(self, database: str) -> str:
        """A DATABASE_URL of one database of this cluster."""
        info = self.server.get_postmaster_info()
        return f"postgres://postgres@/{database}?host={quote(str(info.socket_dir))}"

    def psql(self, command: str) -> str:
        return self.server.psql(command)

    def restart(self) -> None:
        """``pg_ctl restart`` (fast): every session is ended, their advisory locks released."""
        self._pg_ctl("-w", "-m", "fast", "restart")

    def stop(self) -> None:
        import atexit

        atexit.unregister(self.server._cleanup)  # pgserver's own, which would log at exit
        try:
            self._pg_ctl("-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)


class Workers:
    """``celery -A amidash worker`` processes with the given environment (queues, broker,
    database, sandbox); they can be killed with SIGKILL, pool children included."""

    def __init__(self, env: dict[str, str], queues: list[str], name: str = "restarts") -> None:
        self.env, self.queues, self.name, self.processes = env, queues, name, []

    def start(self) -> subprocess.Popen:
        command = [
            PYTHON,
            "-c",
            WORKER_MAIN,
            "worker",
            "-Q",
            ",".join(self.queues),
            "-c",
            "1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{self.name}-{len(self.processes)}@%h",
            "-l",
            "WARNING",
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, env=os.environ | self.env, start_new_session=True
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool children (its whole process group)."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)
