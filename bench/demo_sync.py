"""The demo's first sync, as `make demo` runs it: the demo estate in a sandbox server, one Celery
worker on the filesystem broker (the demo's), a sync started from the command line; timed from
the start of the sync until its run is closed. Goal: under 30 s.

    DEBUG=true DATABASE_URL=postgres://... python bench/demo_sync.py [--polling 0.1] [--seed 42]

``--polling`` is AMIDASH_BROKER_POLLING_SECONDS (how often the worker looks for new messages);
``--baseline`` also times it with kombu's default of one second, in the same run. The database
is a throwaway one; the broker's folders a temporary one.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BROKER_DIR = tempfile.mkdtemp(prefix="amidash-bench-broker-")
os.environ.pop("CELERY_BROKER_URL", None)  # the demo's filesystem broker
os.environ["AMIDASH_BROKER_DIR"] = BROKER_DIR
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from bench.scratch import database_url, drop_database, use_scratch_database  # noqa: E402

GOAL_SECONDS = 30.0


def start_sandbox(seed: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "manage.py", "sandbox", "--port", "0", "--estate", "demo"]
    process = subprocess.Popen(
        [*command, "--seed", str(seed)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    for line in process.stdout:
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if match:
            return process, match.group(1)
    raise RuntimeError("the sandbox server did not start")


def start_worker(endpoint: str, polling: float) -> subprocess.Popen:
    """The demo's worker command, with its environment pointed at the sandbox."""
    from amidash.management.commands.demo import WORKER, sandbox_environment

    port = int(endpoint.rsplit(":", 1)[1])
    env = os.environ | sandbox_environment(port)
    env |= {"DATABASE_URL": database_url(), "AMIDASH_BROKER_POLLING_SECONDS": str(polling)}
    log = Path(BROKER_DIR) / f"worker-{time.monotonic_ns()}.log"
    with log.open("wb") as output:  # a file, not a pipe nobody reads (it would fill up)
        process = subprocess.Popen(
            [sys.executable, *WORKER], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if b"ready." in log.read_bytes():
            return process
        time.sleep(0.1)
    raise RuntimeError(f"the worker did not start; see {log}")


def timed_first_sync(endpoint: str, polling: float, seed: int) -> tuple[float, object]:
    """Register the estate's accounts afresh, start a worker, time one sync to its close (then
    say how long after it the follow-up tasks had read every image's Inspector findings)."""
    from amidash.demo import register_estate_accounts
    from amidash.sandbox.estate import estate_accounts
    from inventory.models import Account, Image, SyncRun
    from inventory.services.sync import start_sync

    Image.objects.all().delete()
    Account.objects.all().delete()
    register_estate_accounts(estate_accounts(seed, "demo"))
    worker = start_worker(endpoint, polling)
    try:
        started = time.perf_counter()
        run = start_sync(None, source="cli")
        while not SyncRun.objects.get(pk=run.pk).is_finished:
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        report_findings_lag(seconds, started)
        return seconds, SyncRun.objects.get(pk=run.pk)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def report_findings_lag(closed: float, started: float, wait: float = 120.0) -> None:
    """How long after the run closed every current image had its findings read (not timed)."""
    from inventory.models import Image

    unread = Image.objects.current().filter(findings__isnull=True)
    left = unread.count()
    while left and time.perf_counter() - started < closed + wait:
        time.sleep(0.1)
        left = unread.count()
    after = time.perf_counter() - started - closed
    state = f"{left} images still unread" if left else "all images' findings read"
    print(f"  (Inspector findings follow-up: {state} {after:.1f} s after the run closed)")


def report(label: str, seconds: float, run) -> None:
    verdict = "met" if seconds < GOAL_SECONDS and run.status == "succeeded" else "not met"
    print(
        f"{label:<34} {seconds:6.1f} s  ({run.status}: {run.regions_succeeded} Regions, "
        f"{run.images_seen} images, {run.api_calls} API calls)  goal < {GOAL_SECONDS:.0f} s: "
        f"{verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polling", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--baseline", action="store_true", help="also time a 1 s polling")
    arguments = parser.parse_args()
    name = use_scratch_database("bench_demo")
    sandbox, endpoint = start_sandbox(arguments.seed)
    try:
        from django.core.management import call_command

        call_command("create_audit_key", verbosity=0)
        if arguments.baseline:
            seconds, run = timed_first_sync(endpoint, 1.0, arguments.seed)
            report("first sync, broker polling 1 s", seconds, run)
        seconds, run = timed_first_sync(endpoint, arguments.polling, arguments.seed)
        report(f"first sync, broker polling {arguments.polling:g} s", seconds, run)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        drop_database(name)


if __name__ == "__main__":
    main()
