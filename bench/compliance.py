"""Benchmark: the Allowed AMIs compliance page and its simulator on a large estate.

    DEBUG=true DATABASE_URL=postgres://... python bench/compliance.py [--instances 100000]

Works in a scratch database (``<name>_compliancebench``) that it creates, migrates and drops at
the end. It stores Allowed AMIs settings for 60 accounts x 5 Regions (audit mode, enabled and
disabled, managed by the account or a declarative policy) and ``--instances`` instances running
images of 2,000 other accounts' images, as the sync stores them. Pages are requested in-process
through Django's test client as a signed-in user; for each it prints the median and p95 server
time over ``--runs`` requests and the SQL queries it made.

Baseline measured in the same run, printed as ratios: every page at the full estate against the
same page at 1,000 instances. Goals: the page and a simulation over every Region p95 < 1 s; a
simulation of one Region p95 < 100 ms; queries independent of the estate's size.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from bench.scratch import drop_database, use_scratch_database  # noqa: E402

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
ACCOUNTS = 60
IMAGES = 2000
BATCH = 5000
SMALL_ESTATE = 1000
STATES = [("audit-mode", "account"), ("enabled", "account"), ("disabled", "account")]
CRITERIA = [
    [{"ImageProviders": ["amazon"]}],
    [{"ImageNames": ["golden-*"], "CreationDateCondition": {"MaximumDaysSinceCreated": 90}}],
    [
        {"ImageProviders": ["amazon"]},
        {"DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": 30}},
    ],
]


def load_regions() -> list[Any]:
    """The accounts, their Regions and one Allowed AMIs setting each."""
    from inventory.models import Account, AccountRegion, AllowedImagesSetting

    now = datetime.now(UTC)
    regions = []
    for number in range(ACCOUNTS):
        account = Account.objects.create(account_id=f"{100000000000 + number:012d}")
        for index, name in enumerate(REGIONS):
            region = AccountRegion.objects.create(account=account, region=name)
            state, managed_by = STATES[(number + index) % len(STATES)]
            if number % 17 == 0:
                managed_by = "declarative-policy"
            AllowedImagesSetting.objects.create(
                account_region=region,
                state=state,
                managed_by=managed_by,
                criteria=CRITERIA[(number + index) % len(CRITERIA)],
                observed_at=now,
            )
            regions.append(region)
    return regions


def image_facts(number: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    owner = "amazon" if number % 4 == 0 else ""
    age = rng.randint(0, 900)
    return {
        "image_id": f"ami-{number:017x}",
        "image_name": ("golden-" if number % 3 == 0 else "app-") + str(number),
        "image_owner_id": f"{900000000000 + number % 50:012d}",
        "image_owner_alias": owner,
        "image_creation_date": now - timedelta(days=age),
        "image_deprecation_time": now - timedelta(days=age // 3) if age > 500 else None,
    }


def load_instances(regions: list[Any], start: int, total: int, rng: random.Random) -> None:
    from inventory.models import InstanceImage

    now = datetime.now(UTC)
    images = [image_facts(number, random.Random(number), now) for number in range(IMAGES)]
    for offset in range(start, total, BATCH):
        rows = [
            InstanceImage(
                account_region=regions[number % len(regions)],
                instance_id=f"i-{number:017x}",
                instance_state="running",
                image_allowed=None,
                observed_at=now,
                **images[rng.randrange(IMAGES)],
            )
            for number in range(offset, min(offset + BATCH, total))
        ]
        InstanceImage.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_instanceimage")


def measure(client: Client, url: str, runs: int, htmx: bool = False) -> dict[str, Any]:
    headers = {"HX-Request": "true"} if htmx else {}
    client.get(url, headers=headers)  # warm the plan cache and the template loader
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"median": statistics.median(times), "p95": p95, "queries": len(queries)}


def pages(region_pk: int) -> dict[str, tuple[str, bool]]:
    simulate = "/compliance/?simulate=1&c1_providers=amazon&c2_names=golden-*&c2_created=60"
    return {
        "compliance page": ("/compliance/", False),
        "simulate every Region": (simulate, True),
        "simulate one Region": (f"{simulate}&region={region_pk}", True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if args.instances < SMALL_ESTATE * 2:
        raise SystemExit(f"--instances must be at least {SMALL_ESTATE * 2:,}")
    setup_test_environment()
    name = use_scratch_database("compliancebench")
    from django.contrib.auth.models import User

    try:
        rng = random.Random(7)
        user = User.objects.create_superuser("bench", "bench@example.com", "bench-password")
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        regions = load_regions()
        load_instances(regions, 0, SMALL_ESTATE, rng)
        urls = pages(regions[0].pk)
        small = {
            label: measure(client, url, args.runs, htmx) for label, (url, htmx) in urls.items()
        }
        started = time.perf_counter()
        load_instances(regions, SMALL_ESTATE, args.instances, rng)
        print(f"loaded {args.instances:,} instances in {time.perf_counter() - started:.1f} s")
        report(client, urls, small, args)
    finally:
        drop_database(name)


def report(client: Client, urls: dict[str, tuple[str, bool]], small: dict, args: Any) -> None:
    load = os.getloadavg()[0]
    print(f"load average while measuring: {load:.2f} on {os.cpu_count()} CPUs")
    print(
        f"\n{'page':<24} {'median ms':>10} {'p95 ms':>8} {'queries':>8}  "
        f"vs {SMALL_ESTATE:,} instances"
    )
    results = {}
    for label, (url, htmx) in urls.items():
        result = results[label] = measure(client, url, args.runs, htmx)
        base = small[label]
        print(
            f"{label:<24} {result['median']:>10.1f} {result['p95']:>8.1f} "
            f"{result['queries']:>8}  p95 x{result['p95'] / base['p95']:.2f}, "
            f"queries {base['queries']}"
        )
    goals = [
        ("compliance page p95 < 1 s", results["compliance page"]["p95"] < 1000),
        ("simulation of every Region p95 < 1 s", results["simulate every Region"]["p95"] < 1000),
        ("simulation of one Region p95 < 100 ms", results["simulate one Region"]["p95"] < 100),
        (
            "queries independent of the estate's size",
            all(results[label]["queries"] == small[label]["queries"] for label in urls),
        ),
    ]
    print(f"\n{args.instances:,} instances in {ACCOUNTS * len(REGIONS)} account+Regions")
    for goal, met in goals:
        print(f"{'met    ' if met else 'not met'} {goal}")


if __name__ == "__main__":
    main()
