"""Benchmark: evaluating a retention policy over 100,000 images (the plan, a dry run).

    DEBUG=true DATABASE_URL=postgres://... python bench/policies.py [--images 100000] [--runs 3]

Works in a scratch database (``<name>_policybench``) that it creates, migrates and drops at the
end (``--keep`` keeps it). Images are loaded as in bench/dashboards.py (a tenth in use). The
policy has every keep rule, every stage and both limits, so each rule runs for each image.

The baseline, measured in the same run, is a bare query of the same rows: the scoped images'
columns the evaluation reads, as tuples in the same form, without ranking, guards, rules or
limits. Prints the median seconds of each, the ratio, the time to store the plan (its rows,
then again with the difference from the previous plan) for scale, and whether the goal is
met: evaluating 100,000 images takes under 5 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

import django.utils.timezone  # noqa: E402
from django.db import connection  # noqa: E402

from bench.dashboards import load_images  # noqa: E402
from bench.scratch import drop_database, use_scratch_database  # noqa: E402

GOAL_SECONDS = 5.0


def bench_policy():
    from policies.models import Policy

    policy, _ = Policy.objects.update_or_create(
        name="bench",
        defaults={
            "keep_newest_per_family": 3,
            "keep_younger_than_days": 90,
            "keep_launched_within_days": 30,
            "keep_tags": {"Environment": "prod"},
            "keep_public": True,
            "keep_shared": True,
            "deprecate": True,
            "disable_after_days": 30,
            "deregister_after_days": 30,
            "max_images_per_run": 5000,
            "max_share_of_family": 0.5,
        },
    )
    return policy


def bare_query(policy) -> int:
    """The baseline: the policy's rows with every column the evaluation reads, in the same form
    and by the same path (policies.services.selection), without family ranking, tag flags,
    ordering, guards, rules or limits."""
    from policies.services.selection import COLUMNS, fetch_rows, in_scope

    query = in_scope(policy).annotate(**{f"c_{n}": e for n, e in COLUMNS.items()})
    return len(fetch_rows(query.values_list(*(f"c_{n}" for n in COLUMNS)).order_by()))


def timed(function, runs: int) -> tuple[float, float, object]:
    """Median wall seconds, median CPU seconds of this process (what a busy machine does not
    inflate), and the last result."""
    seconds, cpu, result = [], [], None
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = function()
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(seconds), statistics.median(cpu), result


def report(images: int, runs: int) -> None:
    from lifecycle.models import AuditSource
    from policies.services.evaluation import evaluate
    from policies.services.plans import save_plan

    policy = bench_policy()
    bare, bare_cpu, count = timed(lambda: bare_query(policy), runs)
    evaluation, evaluation_cpu, plan = timed(lambda: evaluate(policy), runs)
    saving = []
    for _ in range(2):  # the second is compared with the first, as every later plan is
        started = time.perf_counter()
        save_plan(plan, None, AuditSource.CLI)
        saving.append(time.perf_counter() - started)
    decisions: dict[str, int] = {}
    for row in plan.rows:
        decisions[row.decision] = decisions.get(row.decision, 0) + 1
    print(f"images in scope: {len(plan.rows):,} (bare query: {count:,} rows)")
    print(f"decisions: {', '.join(f'{n:,} {d}' for d, n in sorted(decisions.items()))}")
    print(f"bare query of the same rows: {bare:.2f} s, {bare_cpu:.2f} s CPU (median of {runs})")
    print(
        f"evaluating the policy:       {evaluation:.2f} s, {evaluation_cpu:.2f} s CPU "
        f"(median of {runs})"
    )
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"ratio evaluation / bare query: {evaluation / bare:.1f}x")
    print(
        f"storing the plan's rows:     {saving[0]:.2f} s, {saving[1]:.2f} s with the difference "
        "from the previous plan (for scale; not part of the goal)"
    )
    scaled = evaluation * 100_000 / max(len(plan.rows), 1)
    goal = "met" if scaled < GOAL_SECONDS else "not met"
    print(f"{goal}: evaluating 100,000 images under {GOAL_SECONDS:.0f} s ({scaled:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    name = use_scratch_database("policybench")
    from inventory.models import AccountRegion, Image

    try:
        have = Image.objects.count()
        if have and have != args.images:
            raise SystemExit(f"{name} holds {have} images; drop it or pass --images {have}")
        if not have:
            started = time.perf_counter()
            load_images(args.images, 0, random.Random(5))
            print(f"loaded {args.images:,} images in {time.perf_counter() - started:.1f} s")
        AccountRegion.objects.update(last_listed_at=django.utils.timezone.now())
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        report(args.images, args.runs)
    finally:
        if args.keep:
            print(f"kept {name}")
        else:
            drop_database(name)


if __name__ == "__main__":
    main()
