"""How long the sandbox takes to bring up the large estate (100,000 images).

Measured in one run against two baselines from the same run:
- registering 1,000 images through the API (RegisterImage, in-process, no HTTP), extrapolated to
  the large estate's image count: what seeding through the API would cost;
- the empty estate (the fixed cost of generating anything).
With ``--server`` it also times ``manage.py sandbox --estate large --port 0`` until it prints
that it is ready (process start, Django, moto and the estate).

    DEBUG=true .venv/bin/python bench/sandbox_estate.py [--server]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

API_SAMPLE = 1_000


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def register_through_the_api(aws, count: int) -> None:
    ec2 = aws.client("ec2", "us-east-1", account_id="210987654321")
    for number in range(count):
        ec2.register_image(
            Name=f"bench-image-{number}",
            RootDeviceName="/dev/xvda",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
            TagSpecifications=[
                {"ResourceType": "image", "Tags": [{"Key": "Family", "Value": "bench"}]}
            ],
        )


def server_time_to_ready() -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--port", "0", "--estate", "large"],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if re.search(r"ready at http://127\.0\.0\.1:\d+", line):
                print(f"  server said: {line.strip()}")
                return time.perf_counter() - started
        raise RuntimeError("the sandbox server exited before it was ready")
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", action="store_true", help="also time manage.py sandbox")
    options = parser.parse_args()

    import django

    django.setup()
    from amidash.sandbox import sandbox

    with sandbox() as aws:
        empty_seconds, _ = timed(lambda: aws.load_estate("empty", seed=42))
        large_seconds, summary = timed(lambda: aws.load_estate("large", seed=42))
        aws.reset()
        api_seconds, _ = timed(lambda: register_through_the_api(aws, API_SAMPLE))

    images = summary["counts"]["images"]
    api_extrapolated = api_seconds / API_SAMPLE * images
    print(f"large estate: {images:,} images, {summary['counts']['snapshots']:,} snapshots")
    print(
        f"  generated in-process in {large_seconds:.1f} s ({images / large_seconds:,.0f} images/s)"
    )
    print(f"  baseline, empty estate: {empty_seconds:.3f} s")
    print(
        f"  baseline, RegisterImage through the API: {API_SAMPLE:,} in {api_seconds:.1f} s, "
        f"{api_extrapolated:.0f} s extrapolated to {images:,}"
    )
    print(f"  ratio generator / API: 1 : {api_extrapolated / large_seconds:.1f}")
    if options.server:
        ready = server_time_to_ready()
        print(f"manage.py sandbox --estate large: ready in {ready:.1f} s")
        print(f"  ratio server ready / in-process generation: {ready / large_seconds:.2f}")


if __name__ == "__main__":
    main()
