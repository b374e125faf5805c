"""What `make demo` runs: demo users, the simulated AWS estate, a worker, beat, the web server."""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.db import transaction

from amidash.roles import Role

DEMO_USERS: list[tuple[str, str | None]] = [
    ("viewer", Role.VIEWER),
    ("requester", Role.REQUESTER),
    ("approver", Role.APPROVER),
    ("approver2", Role.APPROVER),
    ("auditor", Role.AUDITOR),
    ("admin", None),  # superuser
]


@transaction.atomic
def ensure_demo_users(credentials_file: Path) -> dict[str, str]:
    """One user per role on every account with a random password, saved to credentials_file and
    reused after."""
    from lifecycle.models import AccountAccess

    saved: dict[str, str] = {}
    if credentials_file.exists():
        saved = json.loads(credentials_file.read_text())
    for username, role in DEMO_USERS:
        password = saved.get(username) or secrets.token_urlsafe(12)
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        if created or username not in saved:
            user.set_password(password)
        AccountAccess.objects.update_or_create(user=user, defaults={"all_accounts": True})
        if role is None:
            user.is_superuser = user.is_staff = True
        else:
            user.groups.add(Group.objects.get(name=role))
        user.save()
        saved[username] = password
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text(json.dumps(saved, indent=2))
    credentials_file.chmod(0o600)
    return saved


@transaction.atomic
def register_estate_accounts(accounts: list[dict]) -> int:
    """Register the sandbox estate's accounts for the inventory sync; returns how many.

    The management account is reached with the ambient credentials; every member account
    through its cross-account role and external id, as an operator would register them.
    """
    from inventory.models import Account
    from lifecycle.models import AuditSource
    from lifecycle.services.audit import audit_context

    with audit_context(source=AuditSource.CLI):  # account.added events name the command line
        for account in accounts:
            Account.objects.update_or_create(
                account_id=account["account_id"],
                defaults={
                    "name": account["name"],
                    "role_arn": "" if account["management"] else account["role_arn"],
                    "external_id": "" if account["management"] else account["external_id"],
                    "enabled": True,
                },
            )
    return len(accounts)


#: The demo's example retention policy (disabled: it shows a plan and proposes nothing until a
#: requester enables it or proposes its plan).
DEMO_POLICY = """\
policies:
  - name: tidy-old-builds
    description: Keep the newest three builds of each family and anything launched lately;
      deprecate the rest, disable after 30 days, deregister 30 days later.
    enabled: false
    keep: {newest_per_family: 3, younger_than_days: 30, launched_within_days: 60,
           tags: {keep: "true"}, public: true, shared: true}
    stages: {deprecate: true, disable_after_days: 30, deregister_after_days: 30}
    limits: {max_images_per_run: 200, max_share_of_family: 0.5}
"""


def ensure_demo_policy(username: str = "requester") -> bool:
    """Import the example policy once, as the demo requester; True when it was created."""
    from policies.models import Policy
    from policies.services.documents import import_policies

    if Policy.objects.filter(name="tidy-old-builds").exists():
        return False
    import_policies(User.objects.get(username=username), DEMO_POLICY, "cli")
    return True


class DemoStopped(Exception):
    """Raised in the main thread by SIGINT, SIGTERM or SIGHUP: the demo stops what it started."""


def stop_on_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP raise DemoStopped wherever the demo is, start-up included, so
    the `finally` that stops the children always runs; later signals are ignored while it does."""

    def stop(signum: int, frame: object) -> None:
        for name in STOP_SIGNALS:
            signal.signal(name, signal.SIG_IGN)
        raise DemoStopped(signal.Signals(signum).name)

    for name in STOP_SIGNALS:
        signal.signal(name, stop)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec_fn: the child gets SIGKILL when the demo dies, even by SIGKILL (Linux's parent
    death signal), so a crashed demo never leaves servers holding its ports. SIGKILL, not
    SIGTERM: Celery beat outlives a SIGTERM it gets while starting, and nobody is left to wait
    for a graceful stop."""

    def preexec() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the demo died before prctl took effect
            os._exit(1)

    return preexec


@dataclass
class ProcessGroup:
    """Child processes that live and die together; stopping the demo stops all of them."""

    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(
        self, name: str, args: list[str], env: dict[str, str], log: Path | None = None
    ) -> subprocess.Popen:
        """Start a child in a session of its own (a terminal's Ctrl-C reaches only the demo,
        which stops the children in order); its output goes to log when one is given."""
        output = log.open("ab") if log else None
        try:
            process = subprocess.Popen(
                args,
                env=env,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                preexec_fn=die_with_parent(os.getpid()),
            )
        finally:
            if output:
                output.close()
        self.processes.append((name, process))
        return process

    def exited(self) -> tuple[str, int] | None:
        """The name and exit code of a child that has exited, if any."""
        for name, process in self.processes:
            if process.poll() is not None:
                return name, process.returncode
        return None

    def any_exited(self) -> bool:
        return self.exited() is not None

    def wait(self) -> int:
        """Block until a child exits (returning a failure code) or a signal stops the demo."""
        while (gone := self.exited()) is None:
            time.sleep(0.5)
        name, code = gone
        print(f"{name} exited with code {code}; stopping the demo.", file=sys.stderr)
        return code or 1

    def stop(self, seconds: float = 15) -> None:
        """Terminate every child, newest first, and wait for each; kill what outlives seconds."""
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + seconds
        for _, process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def port_holder(port: int, host: str = "127.0.0.1") -> str | None:
    """None when host:port is free to listen on; else who holds it, as "pid 123 (python)" when
    /proc says so, so the demo can name the culprit before starting anything. Connections
    closing (TIME_WAIT) do not count: the servers listen with SO_REUSEADDR."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            pass
        else:
            return None
    for pid in _listening_pids(port):
        return f"pid {pid} ({_process_name(pid)})"
    return "another process (not one this user can see)"


def _listening_pids(port: int) -> Iterator[int]:
    """The processes with a socket listening on port, from /proc/net/tcp{,6} and /proc/*/fd."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{inode}]")
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                yield int(fd_dir.parent.name)
        except OSError:
            continue


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()[:80]
    except OSError:
        return "unknown"


def python_command(*args: str) -> list[str]:
    return [sys.executable, *args]
