"""`manage.py demo` behaves like a foreground program: a signal at any moment stops every process
it started, and it refuses taken ports naming who holds them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from amidash.demo import port_holder

REPOSITORY = Path(__file__).resolve().parents[4]
DEMO = [sys.executable, "manage.py", "demo", "--estate", "empty"]
pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every living process below pid, from the parent ids in /proc/*/stat."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


class Demo:
    """`manage.py demo` on free ports, with a private data folder, in its own process group."""

    def __init__(self, data_dir: Path) -> None:
        self.web_port, self.sandbox_port = free_port(), free_port()
        env = {**os.environ, "DEBUG": "true", "PYTHONUNBUFFERED": "1"}
        env["AMIDASH_DATA_DIR"] = str(data_dir)
        self.process = subprocess.Popen(
            [*DEMO, "--port", str(self.web_port), "--sandbox-port", str(self.sandbox_port)],
            cwd=REPOSITORY,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def wait_for(self, ready, seconds: float = 180) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            assert self.process.poll() is None, "".join(self.output)
            assert time.monotonic() < deadline, "".join(self.output)
            time.sleep(0.2)

    def web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/healthz", timeout=1):
                return True
        except OSError:
            return False

    def said(self, text: str) -> bool:
        return any(text in line for line in self.output)

    def terminate(self) -> set[int]:
        """SIGTERM the demo alone (not its group); return the children it had then."""
        children = descendants(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        return children


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists() and not zombie(pid)}


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def assert_stopped_cleanly(demo: Demo, children: set[int]) -> None:
    assert len(children) >= 4, "the sandbox, worker, beat and web server were running"
    assert demo.process.returncode == 0, "".join(demo.output)
    assert alive(children) == set()
    assert port_holder(demo.web_port) is None
    assert port_holder(demo.sandbox_port) is None
    assert demo.said("every process it started has exited")


def test_a_sigterm_as_soon_as_the_web_server_answers_stops_every_child(tmp_path):
    demo = Demo(tmp_path)
    demo.wait_for(demo.web_answers)

    children = demo.terminate()

    assert_stopped_cleanly(demo, children)


def test_a_sigterm_once_fully_up_stops_every_child_and_the_console_stays_readable(tmp_path):
    demo = Demo(tmp_path)
    demo.wait_for(lambda: demo.said("first sync done"))

    children = demo.terminate()

    assert_stopped_cleanly(demo, children)
    console = "".join(demo.output)
    assert f"amidash demo on http://127.0.0.1:{demo.web_port}/" in console
    assert re.search(r"^  requester +\S+$", console, re.MULTILINE)
    assert re.search(r"first sync done: \d+ images in \d+ s", console)
    assert "celery@" not in console, "the worker's log goes to its file"
    assert (tmp_path / "logs" / "worker.log").read_text().count("celery@") > 0
    assert (tmp_path / "demo-epoch.txt").exists()


def test_its_children_stop_when_the_demo_is_killed_outright(tmp_path):
    demo = Demo(tmp_path)
    demo.wait_for(demo.web_answers)
    children = descendants(demo.process.pid)

    demo.process.kill()  # SIGKILL: no handler runs; the children's parent-death signal does
    demo.process.wait()
    deadline = time.monotonic() + 30
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.2)

    assert len(children) >= 4
    assert alive(children) == set()
    assert port_holder(demo.web_port) is None


def test_it_refuses_a_taken_port_naming_the_process_that_holds_it(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [*DEMO, "--port", str(port), "--sandbox-port", str(free_port())],
            cwd=REPOSITORY,
            env={**os.environ, "DEBUG": "true", "AMIDASH_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use by pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr
