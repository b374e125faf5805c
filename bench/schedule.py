"""Scheduling a thousand accounts x 17 Regions, and the sync run page at that size.

    DEBUG=true DATABASE_URL=postgres://... python bench/schedule.py [--accounts 1000] [--regions 17]

Into a throwaway database: one scheduled (beat) run with a result per account+Region. Then an
hour of the dispatcher is played minute by minute on a simulated clock (no broker, no AWS): each
minute ``claim_due_regions`` runs as beat runs it, and every Region it queued finishes 1 to 5
minutes later, each finish running the dispatcher again as the worker does. Printed:
- messages queued per minute (peak, mean) and how the Regions spread over the hour, against the
  fan-out before (every Region queued at once: one burst of accounts x Regions);
- the dispatcher's cost per call (mean and worst) and at most how many Regions of one account
  were in flight;
- the run page (first page, a page in the middle, the last page) against rendering every result
  on one page, with the queries each made.
Goals: no minute queues more than AMIDASH_SYNC_REGIONS_PER_MINUTE; never more than
AMIDASH_SYNC_REGIONS_PER_ACCOUNT of an account in flight; every Region queued within the run's
window; any page of the run costs about what the first does (at most 2x) in the same queries.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import REGIONS  # noqa: E402
from bench.scratch import drop_database, use_scratch_database  # noqa: E402


def make_run(accounts: int, regions: int):
    """A scheduled run with a pending result per account+Region, spread as prepare_run does."""
    from inventory.choices import SyncStatus, SyncTrigger
    from inventory.models import Account, SyncRegionResult, SyncRun
    from inventory.services.schedule import spread_regions

    made = Account.objects.bulk_create(
        Account(account_id=f"{100000000000 + n}", name=f"account-{n}") for n in range(accounts)
    )
    run = SyncRun.objects.create(
        status=SyncStatus.RUNNING, trigger=SyncTrigger.BEAT, started_at=timezone.now()
    )
    started = time.perf_counter()
    SyncRegionResult.objects.bulk_create(
        (
            SyncRegionResult(sync_run=run, account=account, region=region)
            for account in made
            for region in REGIONS[:regions]
        ),
        batch_size=5000,
    )
    created = time.perf_counter() - started
    started = time.perf_counter()
    spread_regions(run, run.started_at)
    return run, created, time.perf_counter() - started


def play_the_hour(run, minutes: int) -> dict:
    """The dispatcher each minute (beat) and after each finish (the worker), simulated clock."""
    from inventory.choices import RegionSyncStatus
    from inventory.models import SyncRegionResult
    from inventory.services.schedule import claim_due_regions

    rng = random.Random(7)
    start = run.started_at
    per_minute: Counter[int] = Counter()
    finishing: dict[int, list[int]] = {}  # minute -> results that finish then
    costs: list[float] = []
    account_of = dict(run.results.values_list("pk", "account_id"))
    in_flight: Counter[int] = Counter()
    worst_in_flight = 0

    def dispatch(minute: int, second: int = 0) -> None:
        nonlocal worst_in_flight
        began = time.perf_counter()
        claimed = claim_due_regions(start + timedelta(minutes=minute, seconds=second))
        costs.append(time.perf_counter() - began)
        per_minute[minute] += len(claimed)
        for pk in claimed:
            in_flight[account_of[pk]] += 1
            worst_in_flight = max(worst_in_flight, in_flight[account_of[pk]])
            finishing.setdefault(minute + rng.randint(1, 5), []).append(pk)

    for minute in range(minutes):
        done = finishing.pop(minute, [])
        if done:
            SyncRegionResult.objects.filter(pk__in=done).update(status=RegionSyncStatus.SUCCEEDED)
            for pk in done:
                in_flight[account_of[pk]] -= 1
            # A dispatch per finish (at most one a second: each sees the others' claims).
            for second in sorted(rng.sample(range(60), min(60, len(done)))):
                dispatch(minute, second)
        dispatch(minute, 30)  # beat's own round
    return {
        "per_minute": per_minute,
        "costs": costs,
        "worst_in_flight": worst_in_flight,
        "left": run.results.filter(queued_at__isnull=True).count(),
    }


def time_pages(run) -> list[tuple[str, float, int, int]]:
    """(label, ms, queries, rows) for the first, a middle and the last page, and all on one."""
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from inventory.models import SyncRegionResult

    setup_test_environment()  # the test client's host, and the context of each response
    user = User.objects.create_superuser("bench", "bench@example.com", "x")
    client = Client()
    client.force_login(user)
    url = reverse("inventory:sync_run_detail", args=[run.pk])
    ids = list(run.results.order_by("pk").values_list("pk", flat=True))
    queries = {
        "first page": "",
        "a middle page": f"?after={ids[len(ids) // 2]}",
        "the last page": f"?after={ids[-50]}",
    }
    timings = []
    for label, query in queries.items():
        client.get(url + query)  # warm
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.get(url + query)
            spent = time.perf_counter() - began
        timings.append((label, spent * 1000, len(captured), len(response.context["results"])))
    began = time.perf_counter()
    every = list(SyncRegionResult.objects.filter(sync_run=run).select_related("account"))
    spent = (time.perf_counter() - began) * 1000
    timings.append(("every result loaded (before)", spent, 1, len(every)))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--regions", type=int, default=17)
    arguments = parser.parse_args()
    name = use_scratch_database("bench_schedule")
    try:
        run, created, spread = make_run(arguments.accounts, arguments.regions)
        total = arguments.accounts * arguments.regions
        interval = settings.SYNC_INTERVAL_MINUTES
        print(
            f"{arguments.accounts} accounts x {arguments.regions} Regions = {total:,} Regions; "
            f"results created in {created:.2f} s, spread in {spread * 1000:.0f} ms"
        )
        played = play_the_hour(run, interval + 10)
        report_schedule(played, total, interval)
        pages = time_pages(run)
        for label, ms, queries, rows in pages:
            print(f"run page, {label:<30} {ms:8.1f} ms  {queries:3d} queries  {rows:6,} rows")
        first, middle, last = (ms for _, ms, _, _ in pages[:3])
        same = len({queries for _, _, queries, _ in pages[:3]}) == 1
        verdict = "met" if max(middle, last) <= 2 * first and same else "not met"
        print(f"any page within 2x of the first, same queries: {verdict}")
    finally:
        drop_database(name)


def report_schedule(played: dict, total: int, interval: int) -> None:
    per_minute = played["per_minute"]
    busy = [per_minute[m] for m in range(interval + 10)]
    budget = settings.SYNC_REGIONS_PER_MINUTE
    costs = played["costs"]
    queued_in_window = sum(busy[: int(interval * 0.75) + 1])
    print(
        f"messages per minute: peak {max(busy)}, mean {statistics.mean(busy):.0f} over "
        f"{interval + 10} min (before: {total:,} in the first minute, ratio "
        f"{total / max(max(busy), 1):.0f}x fewer at the peak); minutes with messages "
        f"{sum(1 for n in busy if n)}; queued by the end of the window {queued_in_window:,} of "
        f"{total:,}, never queued {played['left']}"
    )
    print(
        f"dispatcher: {len(costs)} calls, mean {statistics.mean(costs) * 1000:.1f} ms, worst "
        f"{max(costs) * 1000:.1f} ms; most Regions of one account in flight "
        f"{played['worst_in_flight']} (limit {settings.SYNC_REGIONS_PER_ACCOUNT})"
    )
    within = max(busy) <= budget
    limited = played["worst_in_flight"] <= settings.SYNC_REGIONS_PER_ACCOUNT
    print(
        f"no minute over the budget of {budget}: {'met' if within else 'not met'}; account "
        f"concurrency kept: {'met' if limited else 'not met'}; every Region queued: "
        f"{'met' if played['left'] == 0 else 'not met'}"
    )


if __name__ == "__main__":
    main()
