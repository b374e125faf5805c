import os
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from amidash.demo import (
    ProcessGroup,
    ensure_demo_policy,
    ensure_demo_users,
    python_command,
    register_estate_accounts,
)
from amidash.management.commands.sandbox import ESTATES, SEED_ARGUMENT
from amidash.queues import queue_names
from amidash.sandbox.estate import estate_accounts

SANDBOX_PORT = 5055
WEB_ADDRESS = "127.0.0.1:8000"
WORKER = [
    "-m",
    "celery",
    "-A",
    "amidash",
    "worker",
    "-Q",
    ",".join(queue_names(settings.CELERY_QUEUE_PREFIX)),  # every queue: amidash/queues.py
    "--loglevel",
    "INFO",
    "--pool",
    "threads",
    "--concurrency",
    "4",
]


class Command(BaseCommand):
    help = "Run the demo: the simulated AWS estate, a Celery worker and beat, and the dashboard."

    def add_arguments(self, parser):
        parser.add_argument("--estate", default="demo", choices=ESTATES)
        parser.add_argument("--seed", type=SEED_ARGUMENT, default=42)

    def handle(self, *args, estate: str, seed: int, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("create_audit_key", verbosity=0)
        credentials_file = settings.DATA_DIR / "demo-users.json"
        passwords = ensure_demo_users(credentials_file)
        registered = register_estate_accounts(estate_accounts(seed, estate))
        ensure_demo_policy()  # its plan is stored after each sync and shown on the Overview
        children = start_processes(estate, seed)
        wait_for_services(children)
        first_sync = first_sync_queued()
        self.stdout.write(self.style.SUCCESS(f"\namidash demo on http://{WEB_ADDRESS}/"))
        self.stdout.write(
            f"Simulated AWS at http://127.0.0.1:{SANDBOX_PORT} (estate {estate!r}, "
            f"{registered} accounts registered)"
        )
        self.stdout.write(f"Demo sign-ins (also in {credentials_file}):")
        for username, password in passwords.items():
            self.stdout.write(f"  {username:<10} {password}")
        if first_sync:
            self.stdout.write(f"The first sync (#{first_sync.pk}) is running: see the Sync page.")
        self.stdout.write("Press Ctrl-C to stop everything.\n")
        raise SystemExit(children.wait())


def start_processes(estate: str, seed: int) -> ProcessGroup:
    """The simulated AWS, a Celery worker and beat, and the web server, all pointed at the
    sandbox through the standard AWS configuration."""
    env = {**os.environ, "DEBUG": "true", "PYTHONUNBUFFERED": "1"}
    env.update(sandbox_environment(SANDBOX_PORT))
    children = ProcessGroup()
    sandbox = ["manage.py", "sandbox", "--port", str(SANDBOX_PORT), "--seed", str(seed)]
    children.start("sandbox", python_command(*sandbox, "--estate", estate), env)
    children.start("worker", python_command(*WORKER), env)
    children.start(
        "beat",
        python_command("-m", "celery", "-A", "amidash", "beat", "--loglevel", "INFO"),
        env,
    )
    children.start("web", python_command("manage.py", "runserver", WEB_ADDRESS, "--noreload"), env)
    return children


def wait_for_services(children: ProcessGroup) -> None:
    """Wait until the sandbox and the web server answer; stop everything if one never does."""
    for url in (
        f"http://127.0.0.1:{SANDBOX_PORT}/_sandbox/health",
        f"http://{WEB_ADDRESS}/healthz",
    ):
        if not wait_until_answering(url, children):
            children.stop()
            raise CommandError(f"{url} did not answer; see the messages above.")


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


def first_sync_queued():
    """On the first start, sync the estate so the dashboards have something to show."""
    from inventory.models import SyncRun
    from inventory.services.sync import start_sync

    if SyncRun.objects.exists():
        return None
    return start_sync(None, source="cli")


def sandbox_environment(port: int) -> dict[str, str]:
    """Standard AWS configuration pointing every client at the sandbox, as at real AWS."""
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "AKIADEMODEMODEMO0000",
        "AWS_SECRET_ACCESS_KEY": "demo-secret-key",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
