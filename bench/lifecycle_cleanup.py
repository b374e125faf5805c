"""Execution of a 1,000-image cleanup (deregister) against the sandbox, paced per account+Region.

    DEBUG=true DATABASE_URL=postgres://... python bench/lifecycle_cleanup.py \
        [--images 1000] [--rate 5] [--burst 10] [--baseline 100] [--throttle 0.05]

In one run, in a throwaway database, with the in-process sandbox:
- baseline: a cleanup of ``--baseline`` images with pacing out of the way (10,000 per second),
  which measures what one item costs (re-read, guards, mutation, confirmation, inventory, audit);
- paced: the cleanup of ``--images`` images in one account+Region at ``--rate`` mutations per
  second (burst ``--burst``), with a share ``--throttle`` of DeregisterImage calls answered
  RequestLimitExceeded by the sandbox.

Prints the wall time against the pacing limit ((images - burst) / rate) and their ratio (goal:
at most 1.10), the per-item cost from the baseline as a ratio of the pacing interval, the
throttled answers retried, and items left failed (goal: 0) and DeregisterImage calls carried
out (goal: exactly one per image).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402

from amidash.sandbox import sandbox  # noqa: E402
from inventory.models import Image  # noqa: E402
from inventory.services.sync import run_sync  # noqa: E402
from lifecycle.choices import ItemStatus  # noqa: E402
from lifecycle.models import AuditSource, RequestItem  # noqa: E402
from lifecycle.services.execution import execute_request  # noqa: E402
from lifecycle.services.requests import RequestDraft, approve_request, create_request  # noqa: E402

REGION = "us-east-1"


def make_images(aws, count: int, prefix: str) -> list[str]:
    """``count`` unused images made with CreateImage from one instance (one call each)."""
    ec2 = aws.client("ec2", REGION)
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    base = ec2.register_image(
        Name=f"{prefix}-base",
        RootDeviceName="/dev/xvda",
        VirtualizationType="hvm",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}],
    )["ImageId"]
    instance = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1)["Instances"][0]
    return [
        ec2.create_image(InstanceId=instance["InstanceId"], Name=f"{prefix}-{n:05d}")["ImageId"]
        for n in range(count)
    ]


def users() -> tuple[User, User]:
    requester = User.objects.create_user("bench-requester", "r@example.com", "x")
    approver = User.objects.create_user("bench-approver", "a@example.com", "x")
    requester.groups.add(Group.objects.get(name="Requester"))
    approver.groups.add(Group.objects.get(name="Approver"))
    return requester, approver


def cleanup(image_ids: list[str], requester: User, approver: User) -> tuple[float, int]:
    """Request, approve and execute the deregistration; returns seconds and failed items."""
    pks = list(Image.objects.filter(image_id__in=image_ids).values_list("pk", flat=True))
    draft = RequestDraft(action="deregister", image_pks=pks, reason="bench cleanup")
    request = create_request(requester, draft, AuditSource.CLI)
    approve_request(approver, request.pk, request.fingerprint, "bench", AuditSource.CLI)
    started = time.perf_counter()
    execute_request(request.pk)
    seconds = time.perf_counter() - started
    failed = RequestItem.objects.filter(request=request).exclude(status=ItemStatus.SUCCEEDED)
    return seconds, failed.count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--throttle", type=float, default=0.05)
    args = parser.parse_args()
    settings.SYNC_REGIONS = [REGION]
    settings.LIFECYCLE_APPROVALS_REQUIRED = {}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # A database of its own, so no test database is clobbered.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_lifecycle_{os.getpid()}"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        with sandbox() as aws:
            requester, approver = users()
            baseline_ids = make_images(aws, args.baseline, "baseline")
            paced_ids = make_images(aws, args.images, "cleanup")
            run_sync(None)

            settings.LIFECYCLE_MUTATIONS_PER_SECOND, settings.LIFECYCLE_MUTATION_BURST = 1e4, 10**4
            base_seconds, base_failed = cleanup(baseline_ids, requester, approver)
            per_item = base_seconds / args.baseline

            settings.LIFECYCLE_MUTATIONS_PER_SECOND = args.rate
            settings.LIFECYCLE_MUTATION_BURST = args.burst
            aws.clear_calls()
            if args.throttle:
                aws.set_fault("throttle", action="DeregisterImage", share=args.throttle, seed=7)
            seconds, failed = cleanup(paced_ids, requester, approver)
            calls = aws.calls(action="DeregisterImage")
            carried_out = aws.calls(action="DeregisterImage", include_faulted=False)
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)

    limit = max(args.images - args.burst, 0) / args.rate
    print(
        f"baseline: {args.baseline} items in {base_seconds:.1f} s, {per_item * 1000:.0f} ms "
        f"per item ({per_item * args.rate:.2f} of the pacing interval), {base_failed} failed"
    )
    print(
        f"paced:    {args.images} items in {seconds:.1f} s at {args.rate:g}/s (burst "
        f"{args.burst}); pacing limit {limit:.1f} s; ratio {seconds / limit:.3f} (goal <= 1.10)"
    )
    print(
        f"          DeregisterImage calls {len(calls)}, throttled and retried "
        f"{len(calls) - len(carried_out)}, carried out {len(carried_out)} "
        f"(goal {args.images}), items not succeeded {failed} (goal 0)"
    )


if __name__ == "__main__":
    main()
