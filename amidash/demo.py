"""What `make demo` runs: demo users, the simulated AWS estate, a worker, beat, the web server."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import time
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


@dataclass
class ProcessGroup:
    """Child processes that live and die together; Ctrl-C stops all of them."""

    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        process = subprocess.Popen(args, env=env, start_new_session=True)
        self.processes.append((name, process))
        return process

    def any_exited(self) -> bool:
        return any(process.poll() is not None for _, process in self.processes)

    def wait(self) -> int:
        """Block until a child exits or the user interrupts; then stop the rest."""
        stopping = False

        def _stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        exit_code = 0
        while not stopping:
            for name, process in self.processes:
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping the demo.")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
        self.stop()
        return exit_code

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for _, process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


def python_command(*args: str) -> list[str]:
    return [sys.executable, *args]
