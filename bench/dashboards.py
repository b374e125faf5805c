"""Benchmark: server time and SQL queries of the dashboards on a 100,000-image estate.

    DEBUG=true DATABASE_URL=postgres://... python bench/dashboards.py [--images 100000] [--runs 40]

Works in a scratch database (``<name>_dashbench``) that it creates, migrates and drops at the end
(``--keep`` keeps it; a re-run then skips the load). Images are inserted with bulk_create. Pages
are requested in-process through Django's test client as a signed-in user (middleware, view,
queries and templates: the server's whole share of a request, no network). For each page it
prints the median and p95 server time over ``--runs`` requests and the SQL queries it made.

Baselines measured in the same run, printed as ratios:
- the deep page (page 1,000 of 50 rows) against the first page of the same sort;
- every page at 100,000 images against the same page at the first 1,000 images;
- queries at page size 200 against page size 25.
Goals: list and detail p95 < 100 ms, overview p95 < 200 ms; queries constant.
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
ACCOUNTS = [("210987654321", "prod"), ("345678901234", "staging"), ("456789012345", "dev")]
FAMILIES = ["web-api", "worker", "payments-svc", "base-al2023", "gpu-inference", "legacy-app"]
BATCH = 5000
SMALL_ESTATE = 1000


def load_images(total: int, start: int, rng: random.Random) -> None:
    """Insert images start..total-1 (deterministic), a tenth of them with usage rows."""
    from inventory.models import Account, AccountRegion, Image, ImageUsage

    accounts = []
    for account_id, name in ACCOUNTS:
        account, _ = Account.objects.get_or_create(account_id=account_id, defaults={"name": name})
        accounts.append(account)
    regions = {
        (account.pk, region): AccountRegion.objects.get_or_create(account=account, region=region)[0]
        for account in accounts
        for region in REGIONS
    }
    now = datetime.now(UTC)
    for offset in range(start, total, BATCH):
        images = []
        for number in range(offset, min(offset + BATCH, total)):
            account = accounts[number % len(accounts)]
            region = REGIONS[(number // 3) % len(REGIONS)]
            family = FAMILIES[number % len(FAMILIES)]
            age = rng.randint(0, 1100)
            state = rng.choices(["available", "disabled", "pending"], [95, 4, 1])[0]
            images.append(
                Image(
                    account=account,
                    account_region=regions[(account.pk, region)],
                    region=region,
                    image_id=f"ami-{number:017x}",
                    name=f"{family}-1.{number}",
                    family=family,
                    state=state,
                    creation_date=now - timedelta(days=age, minutes=number % 1440),
                    deprecation_time=now - timedelta(days=age // 2) if age > 365 else None,
                    last_launched_time=now - timedelta(days=rng.randint(0, age))
                    if rng.random() < 0.6
                    else None,
                    public=rng.random() < 0.002,
                    shared_with=["111122223333"] if rng.random() < 0.03 else [],
                    storage_gib=rng.choice([8, 8, 10, 20, 30, 50, 100]),
                    tags={"Team": family.split("-")[0], "Environment": account.name},
                    first_seen_at=now - timedelta(days=min(age, 30)),
                    last_seen_at=now,
                    in_use=number % 10 == 0,
                    usage_count=2 if number % 10 == 0 else 0,
                    architecture="x86_64",
                )
            )
        created = Image.objects.bulk_create(images)
        usages = []
        for image in created:
            if image.in_use:
                for kind, prefix in (("instance", "i"), ("launch_template", "lt")):
                    usages.append(
                        ImageUsage(
                            image=image,
                            image_ref=image.image_id,
                            usage_type=kind,
                            resource_id=f"{prefix}-{image.pk:017x}",
                            account=image.account,
                            region=image.region,
                            observed_at=now,
                        )
                    )
        ImageUsage.objects.bulk_create(usages)
    if start == 0:
        _make_runs(now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_image")
        cursor.execute("ANALYZE inventory_imageusage")


def _make_runs(now: datetime) -> None:
    """Twelve finished daily sync runs, for the trend."""
    from inventory.models import SyncRun

    for day in range(12, 0, -1):
        SyncRun.objects.create(
            status="succeeded",
            trigger="beat",
            started_at=now - timedelta(days=day, minutes=5),
            finished_at=now - timedelta(days=day),
        )


def deep_page_query(sort: str, page: int, size: int, filters: dict[str, str]) -> str:
    """The query string of page ``page`` (1-based), as following "Next" that often would give."""
    from urllib.parse import urlencode

    from amidash.pagination import _ordering, _value, encode_cursor
    from inventory.filtersets import SORTABLE, filter_images
    from inventory.models import Image

    key = SORTABLE[sort.lstrip("-")]
    images = filter_images(Image.objects.all(), {k: v for k, v in filters.items()})
    ordered = images.order_by(*_ordering(key, sort.startswith("-")))
    before = ordered[(page - 1) * size - 1]
    cursor = encode_cursor("a", _value(before, key), before.pk)
    return urlencode({**filters, "sort": sort, "size": size, "cursor": cursor})


def measure(client: Client, url: str, runs: int) -> dict[str, Any]:
    client.get(url)  # warm the plan cache and the template loader
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"median": statistics.median(times), "p95": p95, "queries": len(queries)}


def pages(detail_pk: int, deep: bool = True) -> dict[str, str]:
    filters = {"in_use": "no", "region": "eu-west-1"}
    urls = {
        "list, first page": "/images/",
        "list, filtered+sorted": "/images/?in_use=no&region=eu-west-1&sort=-storage",
        "list, name search": "/images/?q=payments-svc-1.99",
        "overview": "/",
        "overview trend (lazy)": "/overview/trend/",
        "image detail": f"/images/{detail_pk}/",
    }
    if deep:
        urls["list, page 1,000"] = "/images/?" + deep_page_query("-created", 1000, 50, {})
        urls["list, filtered page 200"] = "/images/?" + deep_page_query(
            "-storage", 200, 50, filters
        )
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    if args.images < 60_000:
        raise SystemExit("--images must be at least 60,000 (page 1,000 of 50 rows must exist)")

    setup_test_environment()
    name = use_scratch_database("dashbench")
    from django.contrib.auth.models import User

    from inventory.models import Image

    try:
        rng = random.Random(5)
        have = Image.objects.count()
        if have and have != args.images:
            raise SystemExit(f"{name} holds {have} images; drop it or pass --images {have}")
        user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
            "bench", "bench@example.com", "bench-password"
        )
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        small: dict[str, dict[str, Any]] = {}
        if not have:
            load_images(SMALL_ESTATE, 0, rng)
            detail = Image.objects.filter(in_use=True).order_by("pk").first()
            small = {
                label: measure(client, url, args.runs)
                for label, url in pages(detail.pk, deep=False).items()
            }
            started = time.perf_counter()
            load_images(args.images, SMALL_ESTATE, rng)
            print(f"loaded {args.images:,} images in {time.perf_counter() - started:.1f} s")
        detail = Image.objects.filter(in_use=True).order_by("pk").first()
        report(client, pages(detail.pk), small, args.runs)
    finally:
        if args.keep:
            print(f"kept {name}")
        else:
            drop_database(name)


def bare_orm_page() -> float:
    """Milliseconds to fetch a first page of 50 images with their accounts, no view or template:
    what the database alone costs, on this machine, now."""
    from inventory.models import Image

    times = []
    for _ in range(20):
        started = time.perf_counter()
        list(Image.objects.select_related("account").order_by("-creation_date", "-pk")[:51])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def report(client: Client, urls: dict[str, str], small: dict, runs: int) -> None:
    health = measure(client, "/healthz", runs)
    orm = bare_orm_page()
    print(
        f"\nbaselines (same run): /healthz p95 {health['p95']:.1f} ms, "
        f"bare ORM page of 50 images {orm:.1f} ms (median)"
    )
    load = os.getloadavg()[0]
    print(f"load average while measuring: {load:.2f} on {os.cpu_count()} CPUs")
    print(f"\n{'page':<26} {'median ms':>10} {'p95 ms':>8} {'queries':>8}  vs 1,000 images")
    results = {}
    for label, url in urls.items():
        result = results[label] = measure(client, url, runs)
        base = small.get(label)
        ratio = (
            f"p95 x{result['p95'] / base['p95']:.2f}, queries {base['queries']}" if base else "n/a"
        )
        print(
            f"{label:<26} {result['median']:>10.1f} {result['p95']:>8.1f} "
            f"{result['queries']:>8}  {ratio}"
        )
    first, deep = results["list, first page"], results["list, page 1,000"]
    print(f"\npage 1,000 / page 1 (p95): x{deep['p95'] / first['p95']:.2f}")
    size_25 = measure(client, "/images/?size=25", 5)["queries"]
    size_200 = measure(client, "/images/?size=200", 5)["queries"]
    print(f"queries at page size 25: {size_25}, at 200: {size_200}")
    goals = [
        ("list p95 < 100 ms", all(r["p95"] < 100 for k, r in results.items() if "list" in k)),
        ("detail p95 < 100 ms", results["image detail"]["p95"] < 100),
        ("overview p95 < 200 ms", results["overview"]["p95"] < 200),
        ("queries independent of page size", size_25 == size_200),
    ]
    for goal, met in goals:
        print(f"{'met ' if met else 'MISSED'} {goal}")


if __name__ == "__main__":
    main()
