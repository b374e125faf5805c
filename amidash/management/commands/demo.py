"""`manage.py demo`: the simulated AWS, a Celery worker and beat, and the dashboard, in the
foreground; SIGINT, SIGTERM or SIGHUP stops all of it, and its children stop if it dies."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from amidash.demo import (
    DemoStopped,
    ProcessGroup,
    ensure_demo_policy,
    ensure_demo_users,
    port_holder,
    python_command,
    register_estate_accounts,
    stop_on_signals,
)
from amidash.management.commands.sandbox import ESTATES, PORT_ARGUMENT, SEED_ARGUMENT
from amidash.queues import queue_names
from amidash.sandbox.estate import estate_accounts

WORKER = ["-m", "celery", "-A", "amidash", "worker", "--loglevel", "INFO", "--pool", "threads"]
# Every queue (amidash/queues.py): the demo's one worker does all the work.
WORKER += ["-Q", ",".join(queue_names(settings.CELERY_QUEUE_PREFIX)), "--concurrency", "4"]
BEAT = ["-m", "celery", "-A", "amidash", "beat", "--loglevel", "INFO"]
SERVICES = ("sandbox", "worker", "beat", "web")


class Command(BaseCommand):
    help = "Run the demo: the simulated AWS estate, a Celery worker and beat, and the dashboard."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--estate", default="demo", choices=ESTATES)
        parser.add_argument("--seed", type=SEED_ARGUMENT, default=42)
        parser.add_argument("--port", type=PORT_ARGUMENT, default=8000, help="the dashboard's port")
        parser.add_argument(
            "--sandbox-port", type=PORT_ARGUMENT, default=5055, help="the sandbox's port"
        )
        parser.add_argument(
            "--verbose", action="store_true", help="show the services' logs here, not in files"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check_ports(options["port"], options["sandbox_port"])
        children = ProcessGroup()
        stop_on_signals()  # before anything starts: a signal at any moment stops what started
        try:
            code = self.run_demo(children, **options)
        except DemoStopped as stopped:
            self.stdout.write(f"\n{stopped}: stopping the demo.")
            code = 0
        finally:
            children.stop()
        self.stdout.write("Demo stopped: every process it started has exited.")
        raise SystemExit(code)

    def run_demo(self, children: ProcessGroup, **options: Any) -> int:
        """Prepare the database, start the services, say where to go, follow the first sync."""
        estate, seed = options["estate"], options["seed"]
        call_command("migrate", interactive=False, verbosity=0)
        call_command("create_audit_key", verbosity=0)
        credentials_file = settings.DATA_DIR / "demo-users.json"
        passwords = ensure_demo_users(credentials_file)
        registered = register_estate_accounts(estate_accounts(seed, estate))
        ensure_demo_policy()  # planned after the first sync, shown on the Overview
        logs = None if options["verbose"] else settings.DATA_DIR / "logs"
        web = f"127.0.0.1:{options['port']}"
        sandbox = f"http://127.0.0.1:{options['sandbox_port']}"
        start_processes(children, estate, seed, web, options["sandbox_port"], logs)
        self.stdout.write(f"Starting the simulated AWS and the dashboard ({estate!r} estate)...")
        wait_for_services(children, [f"{sandbox}/_sandbox/health", f"http://{web}/healthz"])
        self.stdout.write(self.style.SUCCESS(f"\namidash demo on http://{web}/"))
        self.stdout.write(f"Simulated AWS at {sandbox} ({registered} accounts registered)")
        self.stdout.write(f"Demo sign-ins (also in {credentials_file}):")
        for username, password in passwords.items():
            self.stdout.write(f"  {username:<10} {password}")
        if logs:
            names = ", ".join(f"{name}.log" for name in SERVICES)
            self.stdout.write(f"Logs of the services: {names} in {logs} (--verbose shows them)")
        self.stdout.write("Press Ctrl-C to stop everything.\n")
        run = follow_sync(self.stdout.write, children)
        if estate == "demo" and run is not None and run.status == "succeeded":
            change_outside_amidash(self.stdout.write, children, sandbox, settings.DATA_DIR)
        return children.wait()


def check_ports(*ports: int) -> None:
    """Refuse to start (exit 2) when a port is out of range or taken, naming who holds it."""
    for port in ports:
        if not 1 <= port <= 65535:
            raise CommandError(f"port {port} is not from 1 to 65535", returncode=2)
        holder = port_holder(port)
        if holder:
            raise CommandError(
                f"port {port} on 127.0.0.1 is in use by {holder}; stop it or choose another "
                "port (--port, --sandbox-port)",
                returncode=2,
            )


def demo_epoch(data_dir: Path) -> str:
    """The demo estate's epoch, fixed at the first start and kept in the data folder: every
    restart generates the same images with the same times, so a sync finds no changes."""
    path = data_dir / "demo-epoch.txt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(datetime.now(UTC).replace(second=0, microsecond=0).isoformat() + "\n")
    return path.read_text().strip()


def start_processes(
    children: ProcessGroup, estate: str, seed: int, web: str, sandbox_port: int, logs: Path | None
) -> None:
    """The simulated AWS, a Celery worker and beat, and the web server, all pointed at the
    sandbox through the standard AWS configuration; output to logs/<name>.log when given."""
    env = {**os.environ, "DEBUG": "true", "PYTHONUNBUFFERED": "1"}
    env.update(sandbox_environment(sandbox_port))
    sandbox = ["manage.py", "sandbox", "--port", str(sandbox_port), "--seed", str(seed)]
    sandbox += ["--estate", estate, "--epoch", demo_epoch(settings.DATA_DIR)]
    made = outside_changes_file(settings.DATA_DIR)
    if estate == "demo" and made.exists():  # replayed, so the sandbox looks as it did
        sandbox += ["--outside-changes-at", json.loads(made.read_text())["time"]]
    commands = {
        "sandbox": sandbox,
        "worker": WORKER,
        "beat": [*BEAT, "--schedule", str(settings.DATA_DIR / "celerybeat-schedule")],
        "web": ["manage.py", "runserver", web, "--noreload"],
    }
    if logs:
        logs.mkdir(parents=True, exist_ok=True)
    for name, command in commands.items():
        log = logs / f"{name}.log" if logs else None
        children.start(name, python_command(*command), env, log)


def wait_for_services(children: ProcessGroup, urls: list[str]) -> None:
    """Wait until the sandbox and the web server answer; fail (and stop) if one never does."""
    for url in urls:
        if not wait_until_answering(url, children):
            raise CommandError(f"{url} did not answer; see the services' logs.")


def wait_until_answering(url: str, children: ProcessGroup, seconds: float = 180) -> bool:
    """Poll url until it answers 200, giving up early if a child process died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not children.any_exited():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    return False


def follow_sync(
    write: Any, children: ProcessGroup, seconds: float = 600, label: str = "first sync"
) -> Any:
    """Sync the estate at each start and print a line per phase, then the result: the
    dashboards show what the sandbox holds, and a restart shows there was nothing to change.
    Returns the finished run, or None when it did not finish."""
    from inventory.models import SyncRun
    from inventory.services.sync import start_sync

    run = start_sync(None, source="cli")
    started, said = time.monotonic(), ""
    deadline = started + seconds
    while time.monotonic() < deadline and not children.any_exited():
        run = SyncRun.objects.get(pk=run.pk)
        line = sync_progress(run)
        if line != said:
            write(f"{label}: {line}")
            said = line
        if run.is_finished:
            break
        time.sleep(1)
    else:
        return None
    elapsed = time.monotonic() - started
    if run.error or run.regions_failed:
        write(f"{label} finished with errors ({run.status}): {run.error or 'see the Sync page'}")
    else:
        write(
            f"{label} done: {run.images_seen} images in {elapsed:.0f} s "
            f"({run.images_created} new, {run.images_changed} changed, {run.images_gone} gone)"
        )
    return run


def outside_changes_file(data_dir: Path) -> Path:
    """What the demo's engineers changed outside amidash, and when (kept across restarts)."""
    return data_dir / "demo-outside-changes.json"


def change_outside_amidash(
    write: Any, children: ProcessGroup, sandbox_url: str, data_dir: Path
) -> None:
    """Once per demo: after the first sync, engineers of two accounts change a few images
    directly in AWS (amidash.sandbox.outside), and a second sync observes it. The worker then
    asks CloudTrail who made each change; the audit report names them."""
    from amidash.sandbox import SandboxControlError, connect

    made = outside_changes_file(data_dir)
    if made.exists():
        return
    try:
        with connect(sandbox_url) as aws:
            done = aws.make_outside_changes()
    except (SandboxControlError, OSError) as error:
        write(f"changes outside amidash not made: {error}")
        return
    made.write_text(json.dumps(done, indent=2) + "\n")
    people = sorted({change["principal"] for change in done["changes"]})
    write(
        f"{len(done['changes'])} images changed outside amidash, directly in AWS, by "
        f"{' and '.join(people)}; syncing again to observe it"
    )
    follow_sync(write, children, label="second sync")


def sync_progress(run: Any) -> str:
    """One line naming the run's phase: queued, discovering Regions, syncing (done/total)."""
    from inventory.choices import SyncStatus

    if run.status == SyncStatus.QUEUED:
        return f"#{run.pk} queued"
    if not run.regions_total:
        return f"#{run.pk} discovering the accounts' Regions"
    done = run.regions_succeeded + run.regions_failed + run.regions_skipped
    return f"#{run.pk} listing images: {done} of {run.regions_total} account Regions"


def sandbox_environment(port: int) -> dict[str, str]:
    """Standard AWS configuration pointing every client at the sandbox, as at real AWS."""
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "AKIADEMODEMODEMO0000",
        "AWS_SECRET_ACCESS_KEY": "demo-secret-key",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
