"""Peak memory (RSS) of a worker syncing one large Region, against two baselines of this run.

    DEBUG=true DATABASE_URL=postgres://... python bench/sync_memory.py [--images 100000]

A sandbox server holding ``--images`` images in us-east-1 of one account (baked straight into
moto, as the estates are) is started in a subprocess. Each measurement is a fresh process whose
peak RSS the kernel reports when it exits (``wait4``):
- idle: Django set up and the sync's modules imported, nothing listed (the fixed cost);
- bare listing: DescribeImages pages kept as boto3 returns them (what holding a listing costs);
- the sync: ``manage.py sync_inventory --region us-east-1`` into a throwaway database (the
  first sync: every image is new).
Goal: a worker syncing a 100,000-image Region stays under 300 MB. Below that size the per-image
cost measured here is extrapolated to 100,000 images, and said to be: the slope between the two
Regions, both larger than the sync's batch (SAVE_BATCH_SIZE), so the batch's cost cancels out.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

REGION, SMALL_REGION = "us-east-1", "us-west-2"  # the Region measured, and one a quarter as big
GOAL_IMAGES, GOAL_MB = 100_000, 300.0


def serve(images: int) -> None:
    """The sandbox server with ``images`` images of the default account in REGION."""
    from amidash.management.commands.sandbox import prepare_environment

    prepare_environment()
    import django

    django.setup()
    from moto.ec2.models import ec2_backends

    from amidash.sandbox.runtime import DEFAULT_ACCOUNT_ID
    from amidash.sandbox.server import make_sandbox_server

    server = make_sandbox_server("127.0.0.1", 0)
    for region, count in ((REGION, images), (SMALL_REGION, images // 4)):
        bake_images(ec2_backends[DEFAULT_ACCOUNT_ID][region], region, count)
    print(f"ready at http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


def bake_images(backend, region: str, images: int) -> None:
    from moto.ec2.models.amis import Ami
    from moto.ec2.utils import random_ami_id

    for number in range(images):
        image_id = random_ami_id()
        name = f"service-{number % 50}-1.{number}"
        backend.amis[image_id] = Ami(
            backend, image_id, name=name, description=f"build {number}",
            architecture="x86_64", virtualization_type="hvm", root_device_type="ebs",
            root_device_name="/dev/xvda", region_name=f"{region}a",
        )  # fmt: skip
        backend.tags[image_id] = {"Name": name, "Team": f"team-{number % 7}"}


def idle() -> None:
    import django

    django.setup()
    import inventory.services.sync  # noqa: F401


def bare_listing() -> None:
    import boto3

    pages = boto3.client("ec2", REGION).get_paginator("describe_images")
    kept = [
        page["Images"]
        for page in pages.paginate(
            Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True,
            PaginationConfig={"PageSize": 1000},
        )
    ]  # fmt: skip
    print(sum(len(page) for page in kept))


def peak_mb(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``command`` to its end; its peak RSS in MB and its seconds.

    The peak is the process's own high-water mark (VmHWM, reset by exec) read until it exits:
    ``wait4``'s ru_maxrss would count this big parent's, inherited at fork.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    status, peak = Path(f"/proc/{process.pid}/status"), 0
    while process.poll() is None:
        try:
            text = status.read_text()
        except OSError:
            break
        match = re.search(r"VmHWM:\s+(\d+) kB", text)
        peak = max(peak, int(match.group(1))) if match else peak
        time.sleep(0.02)
    if process.wait() not in (0, 1):
        raise RuntimeError(f"{command} exited with {process.returncode}")
    return peak / 1024, time.perf_counter() - started


def measure(images: int) -> None:
    import django

    django.setup()
    from amidash.sandbox.runtime import SANDBOX_ENVIRONMENT
    from bench.scratch import database_url, drop_database, use_scratch_database

    name = use_scratch_database("bench_memory")
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(images)], cwd=ROOT, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        endpoint = next(
            match.group(1)
            for line in server.stdout
            if (match := re.search(r"(http://127\.0\.0\.1:\d+)", line))
        )
        env = os.environ | SANDBOX_ENVIRONMENT | {"AWS_ENDPOINT_URL": endpoint}
        # As a worker runs in production: with DEBUG on, Django keeps the text of every query.
        env |= {"DATABASE_URL": database_url(), "DEBUG": "false", "SECRET_KEY": "x" * 50}
        fixed, _ = peak_mb([sys.executable, __file__, "--idle"], env)
        bare, bare_seconds = peak_mb([sys.executable, __file__, "--bare"], env)
        sync = [sys.executable, "manage.py", "sync_inventory", "--region"]
        small, _ = peak_mb([*sync, SMALL_REGION], env | {"AMIDASH_SYNC_REGIONS": SMALL_REGION})
        synced, sync_seconds = peak_mb([*sync, REGION], env | {"AMIDASH_SYNC_REGIONS": REGION})
        report(images, fixed, bare, bare_seconds, small, synced, sync_seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
        drop_database(name)


def report(
    images: int, fixed: float, bare: float, bare_s: float, small: float, synced: float, s: float
) -> None:
    print(f"Region of {images:,} images; peak RSS of a fresh process each:")
    print(f"  idle (Django and the sync imported):     {fixed:7.1f} MB")
    print(f"  bare listing kept as boto3 dicts:        {bare:7.1f} MB  ({bare_s:.0f} s)")
    print(f"  the sync of a Region of {images // 4:>7,} images: {small:7.1f} MB")
    print(f"  the sync of a Region of {images:>7,} images: {synced:7.1f} MB  ({s:.0f} s)")
    per_image = max(synced - small, 0.0) / (images - images // 4)  # fixed costs cancel out
    at_goal = synced + per_image * max(GOAL_IMAGES - images, 0)
    from inventory.services.sync import SAVE_BATCH_SIZE

    how = "measured" if images >= GOAL_IMAGES else "extrapolated from the two Regions"
    if images // 4 < SAVE_BATCH_SIZE:
        how += f"; unreliable: both must exceed the sync's batch of {SAVE_BATCH_SIZE}"
    verdict = "met" if at_goal < GOAL_MB else "not met"
    print(
        f"  per image: {per_image * 1024:.2f} KB; at {GOAL_IMAGES:,} images ({how}): "
        f"{at_goal:.0f} MB; goal under {GOAL_MB:.0f} MB: {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=GOAL_IMAGES, help="at least 4 batches")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--idle", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve is not None:
        serve(arguments.serve)
    elif arguments.idle:
        idle()
    elif arguments.bare:
        bare_listing()
    else:
        measure(arguments.images)


if __name__ == "__main__":
    main()
