"""Benchmark: server time and SQL queries of the dashboards on a large estate (a million images).

    DEBUG=true DATABASE_URL=postgres://... python bench/dashboards.py [--images 1000000] [--runs 40]

Works in a scratch database (``<name>_dashbench``) that it creates, migrates and drops at the end
(``--keep`` keeps it; a re-run then skips the load and measures again). PostgreSQL makes the
images itself (INSERT ... SELECT over generate_series), through the same triggers that keep the
rollups in production, so a million images load in minutes. Pages
are requested in-process through Django's test client as a signed-in user (middleware, view,
queries and templates: the server's whole share of a request, no network). For each page it
prints the median and p95 server time over ``--runs`` requests and the SQL queries it made.

Baselines measured in the same run, printed as ratios:
- the deep page (page 1,000 of 50 rows) against the first page of the same sort, and the
  filtered and sorted page 200 against its first page, each pair requested in turn;
- every page at the full estate against the same page at the first 1,000 images;
- queries at page size 200 against page size 25, and on deep pages against first pages.
Goals: list first page and filtered+sorted p95 < 100 ms, name search < 150 ms, overview < 200 ms,
image detail < 50 ms, deep pages within 1.5x of their first page, queries independent of page
size and depth.
"""

from __future__ import annotations

import argparse
import os
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
SMALL_ESTATE = 1000


#: One image per number n, made by PostgreSQL (generate_series), deterministic in n. The
#: parameters are the accounts' primary keys and names, the Regions and the account+Region keys
#: (account index * len(REGIONS) + Region index), the families, the time and the range of n.
IMAGES_SQL = """
WITH numbered AS (
    SELECT n, n %% 3 AS account, (n / 3) %% 5 AS region, n %% 6 AS family,
           (n::bigint * 2654435761 %% 4294967296) %% 1101 AS age,
           (n::bigint * 7919 + 13) %% 100 AS state_draw
    FROM generate_series(%(start)s, %(stop)s - 1) AS n
)
INSERT INTO inventory_image (
    account_id, account_region_id, region, image_id, name, description, family, state,
    image_type, image_location, creation_date, deprecation_time, last_launched_time,
    deregistration_protection, public, shared_with, source_image_id, source_image_region,
    architecture, platform, virtualization_type, root_device_type, root_device_name, boot_mode,
    imds_support, block_devices, storage_gib, tags, first_seen_at, last_seen_at, in_use,
    usage_count, fingerprint
)
SELECT (%(accounts)s::bigint[])[account + 1],
       (%(account_regions)s::bigint[])[account * 5 + region + 1],
       (%(regions)s::text[])[region + 1],
       'ami-' || lpad(to_hex(n), 17, '0'),
       (%(families)s::text[])[family + 1] || '-1.' || n, '',
       (%(families)s::text[])[family + 1],
       CASE WHEN state_draw < 95 THEN 'available' WHEN state_draw < 99 THEN 'disabled'
            ELSE 'pending' END,
       'machine', '',
       %(now)s - make_interval(days => age::int, mins => n %% 1440),
       CASE WHEN age > 365 THEN %(now)s - make_interval(days => (age / 2)::int) END,
       CASE WHEN (n::bigint * 31) %% 10 < 6
            THEN %(now)s - make_interval(days => ((n::bigint * 131) %% (age + 1))::int) END,
       'disabled', (n::bigint * 104729) %% 500 = 0,
       CASE WHEN (n::bigint * 48271) %% 100 < 3 THEN '["111122223333"]'::jsonb
            ELSE '[]'::jsonb END,
       '', '', 'x86_64', 'Linux/UNIX', 'hvm', 'ebs', '/dev/xvda', '', '', '[]'::jsonb,
       (ARRAY[8, 8, 10, 20, 30, 50, 100])[(n::bigint * 13) %% 7 + 1],
       jsonb_build_object(
           'Team', split_part((%(families)s::text[])[family + 1], '-', 1),
           'Environment', (%(account_names)s::text[])[account + 1]
       ),
       %(now)s - make_interval(days => least(age, 30)::int), %(now)s,
       n %% 10 = 0, CASE WHEN n %% 10 = 0 THEN 2 ELSE 0 END, ''
FROM numbered
"""

#: Two usages (an instance and a launch template) of each image in use among the new ones.
USAGES_SQL = """
INSERT INTO inventory_imageusage (
    image_id, image_ref, usage_type, resource_id, resource_name, detail, account_id, region,
    observed_at
)
SELECT image.id, image.image_id, kind.usage_type,
       kind.prefix || '-' || lpad(to_hex(image.id), 17, '0'),
       '', '{}'::jsonb, image.account_id, image.region, %(now)s
FROM inventory_image AS image
CROSS JOIN (VALUES ('instance', 'i'), ('launch_template', 'lt')) AS kind (usage_type, prefix)
WHERE image.in_use AND image.id > %(after)s
"""
#: Inspector findings of the new images with ids in (after, upto]: 8 % never read (no row), 2 %
#: not permitted, the rest scanned; of those, 4 % with critical findings and 15 % with high ones.
#: The findings table's triggers copy them onto the image rows, as for the sync's own writes.
FINDINGS_SQL = """
INSERT INTO inventory_imagefindings (
    image_id, status, reason, critical, high, medium, low, informational, checked_at
)
SELECT id, CASE WHEN draw < 10 THEN 'not_scanned' ELSE 'scanned' END,
       CASE WHEN draw < 10 THEN 'not permitted to read Inspector findings (AccessDenied)'
            ELSE '' END,
       CASE WHEN draw >= 10 AND severity < 4 THEN 1 + id %% 3 ELSE 0 END,
       CASE WHEN draw >= 10 AND severity < 15 THEN 1 + id %% 5 ELSE 0 END,
       CASE WHEN draw >= 10 THEN id %% 7 ELSE 0 END,
       CASE WHEN draw >= 10 THEN id %% 11 ELSE 0 END, 0, %(now)s
FROM (
    SELECT id, (id * 2654435761 %% 4294967296) %% 100 AS draw,
           (id * 40503 + 7) %% 100 AS severity
    FROM inventory_image WHERE id > %(after)s AND id <= %(upto)s
) AS drawn
WHERE draw >= 8
"""
LOAD_CHUNK = 100_000


def load_images(total: int, start: int) -> None:
    """Insert images start..total-1 in PostgreSQL, a tenth of them in use with two usage rows,
    most with Inspector findings (FINDINGS_SQL)."""
    from inventory.models import Account, AccountRegion, Image

    accounts = [
        Account.objects.get_or_create(account_id=account_id, defaults={"name": name})[0]
        for account_id, name in ACCOUNTS
    ]
    account_regions = [
        AccountRegion.objects.get_or_create(account=account, region=region)[0].pk
        for account in accounts
        for region in REGIONS
    ]
    now = datetime.now(UTC)
    params = {
        "accounts": [account.pk for account in accounts],
        "account_names": [account.name for account in accounts],
        "account_regions": account_regions,
        "regions": REGIONS,
        "families": FAMILIES,
        "now": now,
    }
    after = Image.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with connection.cursor() as cursor:
        for chunk in range(start, total, LOAD_CHUNK):
            stop = min(chunk + LOAD_CHUNK, total)
            cursor.execute(IMAGES_SQL, {**params, "start": chunk, "stop": stop})
        cursor.execute(USAGES_SQL, {"now": now, "after": after})
        last = Image.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        for low in range(after, last, LOAD_CHUNK):
            cursor.execute(FINDINGS_SQL, {"now": now, "after": low, "upto": low + LOAD_CHUNK})
        # Vacuumed now, not by autovacuum in the middle of the measurements.
        tables = ("image", "imageusage", "imagefindings", "imagerollup")
        for table in (f"inventory_{name}" for name in tables):
            cursor.execute(f"VACUUM ANALYZE {table}")
    if start == 0:
        _make_runs(now)


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


def _timed(client: Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return (time.perf_counter() - started) * 1000


def _summary(times: list[float], queries: int) -> dict[str, Any]:
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"median": statistics.median(times), "p95": p95, "queries": queries}


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return len(queries)


def measure(client: Client, url: str, runs: int) -> dict[str, Any]:
    client.get(url)  # warm the plan cache and the template loader
    times = [_timed(client, url) for _ in range(runs)]
    return _summary(times, _queries(client, url))


def measure_pair(client: Client, first: str, deep: str, runs: int) -> tuple[dict, dict]:
    """A first page and a deep page requested in turn, so that both see the same load (the
    machine is shared: a burst of other work would otherwise land on one of them only)."""
    client.get(first), client.get(deep)
    first_times, deep_times = [], []
    for _ in range(runs):
        first_times.append(_timed(client, first))
        deep_times.append(_timed(client, deep))
    return (
        _summary(first_times, _queries(client, first)),
        _summary(deep_times, _queries(client, deep)),
    )


def pages(detail_pk: int, deep: bool = True) -> dict[str, str]:
    filters = {"in_use": "no", "region": "eu-west-1"}
    urls = {
        "list, first page": "/images/",
        "list, filtered+sorted": "/images/?in_use=no&region=eu-west-1&sort=-storage",
        "list, name search": "/images/?q=payments-svc-1.99",
        "overview": "/",
        "overview trend (lazy)": "/overview/trend/",
        "accounts": "/accounts/",
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
    parser.add_argument("--images", type=int, default=1_000_000)
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
            load_images(SMALL_ESTATE, 0)
            detail = Image.objects.filter(in_use=True).order_by("pk").first()
            small = {
                label: measure(client, url, args.runs)
                for label, url in pages(detail.pk, deep=False).items()
            }
            started = time.perf_counter()
            load_images(args.images, SMALL_ESTATE)
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
    first, deep = measure_pair(client, urls["list, first page"], urls["list, page 1,000"], runs)
    filtered, filtered_deep = measure_pair(
        client, urls["list, filtered+sorted"], urls["list, filtered page 200"], runs
    )
    deep_ratio = deep["p95"] / first["p95"]
    filtered_ratio = filtered_deep["p95"] / filtered["p95"]
    print("\ndeep pages against their first page, requested in turn (p95):")
    print(f"page 1,000 {deep['p95']:.1f} ms / page 1 {first['p95']:.1f} ms: x{deep_ratio:.2f}")
    print(
        f"filtered page 200 {filtered_deep['p95']:.1f} ms / its page 1 "
        f"{filtered['p95']:.1f} ms: x{filtered_ratio:.2f}"
    )
    size_25 = measure(client, "/images/?size=25", 5)["queries"]
    size_200 = measure(client, "/images/?size=200", 5)["queries"]
    print(f"queries at page size 25: {size_25}, at 200: {size_200}")
    print(
        f"queries on page 1: {first['queries']}, on page 1,000: {deep['queries']}; "
        f"filtered page 1: {filtered['queries']}, filtered page 200: {filtered_deep['queries']}"
    )
    first_page, filtered_page = results["list, first page"], results["list, filtered+sorted"]
    goals = [
        (
            "list first page and filtered+sorted p95 < 100 ms",
            first_page["p95"] < 100 and filtered_page["p95"] < 100,
        ),
        ("name search p95 < 150 ms", results["list, name search"]["p95"] < 150),
        ("overview p95 < 200 ms", results["overview"]["p95"] < 200),
        ("image detail p95 < 50 ms", results["image detail"]["p95"] < 50),
        ("deep pages p95 within 1.5x of their first page", max(deep_ratio, filtered_ratio) <= 1.5),
        (
            "queries independent of page size and depth",
            size_25 == size_200
            and first["queries"] == deep["queries"]
            and filtered["queries"] == filtered_deep["queries"],
        ),
    ]
    for goal, met in goals:
        print(f"{'met    ' if met else 'NOT MET'} {goal}")


if __name__ == "__main__":
    main()
