"""A full sync of 17 Regions x 300 images with usage, against a bare boto3 sweep making the
same API calls with no database, both measured in this run on the sandbox server.

    DEBUG=true DATABASE_URL=postgres://... python bench/sync.py [--images 300] [--regions 17]

Starts ``manage.py sandbox --port 0 --estate empty`` (stopped at the end), fills it through the
API, then measures, sequentially (one Region at a time, as the baseline):
- the bare sweep: DescribeRegions, then per Region DescribeImages (1000 a page),
  DescribeInstances, DescribeLaunchTemplateVersions, DescribeAutoScalingGroups,
  DescribeLaunchConfigurations, DescribeImageReferences (10 images a call) and, for a first
  sync, one DescribeImageAttribute and one GetImageFindings per image (GetImageAncestry per copy);
- the sync (first, then a re-sync of the unchanged estate) into a throwaway database.
Prints seconds and CPU seconds (this process's and the sandbox server's, so a loaded machine
does not decide it), the ratios sync / sweep (goal: CPU at most 1.2), where the sync's time goes
per phase, API calls per account+Region and how many image rows the re-sync wrote (goal: 0).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

import boto3  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from amidash.sandbox.runtime import connect  # noqa: E402
from bench import REGIONS  # noqa: E402


def start_server() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--port", "0", "--estate", "empty"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in process.stdout:
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if match:
            return process, match.group(1)
    raise RuntimeError("the sandbox server did not start")


def populate(aws, regions: list[str], images: int) -> None:
    """Per Region: ``images`` images, 10 instances, 4 launch templates with 2 versions each, an
    Auto Scaling group pinned to an older version, a launch configuration and its group."""
    for region in regions:
        ec2 = aws.client("ec2", region)
        volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8)
        snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
        ids = [
            ec2.register_image(
                Name=f"service-{n % 30}-1.{n}",
                RootDeviceName="/dev/xvda",
                BlockDeviceMappings=[
                    {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot, "VolumeSize": 8}}
                ],
            )["ImageId"]
            for n in range(images)
        ]
        for n in range(10):
            ec2.run_instances(ImageId=ids[n], MinCount=1, MaxCount=1)
        autoscaling = aws.client("autoscaling", region)
        for n in range(4):
            template = ec2.create_launch_template(
                LaunchTemplateName=f"lt-{n}", LaunchTemplateData={"ImageId": ids[20 + n]}
            )["LaunchTemplate"]["LaunchTemplateId"]
            ec2.create_launch_template_version(
                LaunchTemplateId=template, LaunchTemplateData={"ImageId": ids[30 + n]}
            )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName="pinned",
            LaunchTemplate={"LaunchTemplateName": "lt-0", "Version": "1"},
            MinSize=0, MaxSize=0, DesiredCapacity=0, AvailabilityZones=[f"{region}a"],
        )  # fmt: skip
        autoscaling.create_launch_configuration(
            LaunchConfigurationName="legacy", ImageId=ids[40], InstanceType="t3.micro"
        )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName="legacy", LaunchConfigurationName="legacy",
            MinSize=0, MaxSize=0, DesiredCapacity=0, AvailabilityZones=[f"{region}a"],
        )  # fmt: skip


def bare_sweep(regions: list[str], with_attributes: bool) -> tuple[float, int]:
    """The same API calls with plain boto3 clients and no database; returns (seconds, calls)."""
    started = time.perf_counter()
    session = boto3.session.Session()
    calls = 1
    session.client("ec2", "us-east-1").describe_regions(AllRegions=True)
    for region in regions:
        ec2 = session.client("ec2", region)
        autoscaling = session.client("autoscaling", region)
        images = []
        for page in ec2.get_paginator("describe_images").paginate(
            Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True,
            PaginationConfig={"PageSize": 1000},
        ):  # fmt: skip
            images += page["Images"]
            calls += 1
        for _page in ec2.get_paginator("describe_instances").paginate(
            PaginationConfig={"PageSize": 1000}
        ):
            calls += 1
        ec2.describe_launch_template_versions(Versions=["$Latest", "$Default"])
        autoscaling.describe_auto_scaling_groups()
        autoscaling.describe_launch_configurations()
        calls += 3
        ids = [image["ImageId"] for image in images]
        try:
            for start in range(0, len(ids), 10):  # ImageId.N: 1 to 10 images a call
                ec2.describe_image_references(
                    ImageIds=ids[start : start + 10], IncludeAllResourceTypes=True
                )
                calls += 1
        except Exception:  # an endpoint without the call, as the sync tolerates
            calls += 1
        if with_attributes:
            for image in images:
                ec2.describe_image_attribute(ImageId=image["ImageId"], Attribute="launchPermission")
                calls += 1
                if image.get("SourceImageId"):
                    ec2.get_image_ancestry(ImageId=image["ImageId"])
                    calls += 1
        ec2.get_allowed_images_settings()  # the Region's Allowed AMIs setting and instances
        for _page in ec2.get_paginator("describe_instance_image_metadata").paginate():
            calls += 1
        calls += 1
    return time.perf_counter() - started, calls


GOAL_RATIO = 1.2
#: The sync's phases, timed by wrapping the functions that do them (name, module, function).
PHASES = [
    ("list (AWS)", "inventory.services.sync", "list_region"),
    ("launch permissions (AWS)", "inventory.services.sync", "fetch_launch_permissions"),
    ("ancestry of copies (AWS)", "inventory.services.sync", "fetch_ancestry"),
    ("Allowed AMIs (AWS)", "inventory.services.sync", "sync_allowed_images"),
    ("compare with stored", "inventory.services.sync", "_listing_changes"),
    ("write images", "inventory.services.sync", "upsert_images"),
    ("observations", "inventory.services.sync", "listed_observations"),
    ("announce (audit events)", "inventory.services.sync", "announce"),
    ("usage", "inventory.services.sync", "_save_usage"),
]
phase_times: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])


def time_phases() -> None:
    """Wrap each phase's function to add up its wall and CPU seconds."""
    import importlib

    for label, module_name, name in PHASES:
        module = importlib.import_module(module_name)
        setattr(module, name, _timed(label, getattr(module, name)))


def _timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            phase_times[label][0] += time.perf_counter() - wall
            phase_times[label][1] += time.process_time() - cpu

    return wrapper


def server_cpu(pid: int) -> float:
    """CPU seconds the sandbox server has used (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(action: Callable[[], Any], server: int) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds (this process and the sandbox server) and the result."""
    wall, cpu, served = time.perf_counter(), time.process_time(), server_cpu(server)
    result = action()
    spent = time.process_time() - cpu + server_cpu(server) - served
    return time.perf_counter() - wall, spent, result


def warm_up(regions: list[str]) -> None:
    """Load the service models both ways once, so neither measurement pays it."""
    from inventory.services.aws import AwsSession

    bare_sweep(regions[:1], with_attributes=False)
    session = AwsSession()
    for service in ("ec2", "autoscaling", "sts"):
        session.client(service, regions[0])


def timed_sync() -> Any:
    from inventory.services.sync import run_sync

    phase_times.clear()
    return run_sync(None, source="cli", concurrency=1)


def describe_run(label: str, measure: tuple, baseline: tuple) -> None:
    seconds, cpu, run = measure
    base_seconds, base_cpu, _ = baseline
    results = list(run.results.all())
    calls = [r.api_calls for r in results]
    written = sum(r.image_rows_written for r in results)
    verdict = "met" if cpu / base_cpu <= GOAL_RATIO else "not met"
    print(
        f"{label:<28} {seconds:7.2f} s, CPU {cpu:6.2f} s; ratio wall {seconds / base_seconds:5.2f}"
        f", CPU {cpu / base_cpu:5.2f} (goal at most {GOAL_RATIO}: {verdict}); status "
        f"{run.status}; API calls per account+Region min {min(calls)} max {max(calls)}; "
        f"image rows written {written}"
    )
    for phase, (wall, phase_cpu) in phase_times.items():
        print(f"    {phase:<26} {wall:7.2f} s, CPU here {phase_cpu:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--regions", type=int, default=17)
    arguments = parser.parse_args()
    regions = REGIONS[: arguments.regions]
    settings.SYNC_REGIONS = regions
    process, endpoint = start_server()
    # A database of its own (never the test run's test_<name>, which pytest may be using).
    test_settings = connection.settings_dict.setdefault("TEST", {})
    test_settings["NAME"] = f"bench_{connection.settings_dict['NAME']}"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        time_phases()
        with connect(endpoint) as aws:
            started = time.perf_counter()
            populate(aws, regions, arguments.images)
            print(
                f"estate: {len(regions)} Regions x {arguments.images} images with usage "
                f"(filled in {time.perf_counter() - started:.0f} s) at {endpoint}"
            )
            warm_up(regions)
            sweep_first = measured(lambda: bare_sweep(regions, True), process.pid)
            first = measured(timed_sync, process.pid)
            first_phases = dict(phase_times)
            sweep_again = measured(lambda: bare_sweep(regions, False), process.pid)
            again = measured(timed_sync, process.pid)
        pages = math.ceil(arguments.images / 1000)
        for label, (seconds, cpu, (_, calls)) in (
            ("bare boto3 sweep, first:", sweep_first),
            ("bare boto3 sweep, unchanged:", sweep_again),
        ):
            print(f"{label:<28} {seconds:7.2f} s, CPU {cpu:6.2f} s  ({calls} calls)")
        again_phases = dict(phase_times)
        phase_times.clear()
        phase_times.update(first_phases)
        describe_run("sync, first", first, sweep_first)
        phase_times.clear()
        phase_times.update(again_phases)
        describe_run("re-sync, unchanged", again, sweep_again)
        written = sum(r.image_rows_written for r in again[2].results.all())
        print(
            f"DescribeImages pages per Region: {pages}; re-sync writes 0 image rows: "
            f"{'met' if written == 0 else 'not met'} ({written})"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
