"""The sync_inventory command, as the README documents it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from inventory.models import Image
from tests.amidash.sandbox.images import OTHER_REGION, REGION, register_image
from tests.cli import run_from_command_line

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exit:
        return int(exit.code), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_it_prints_a_line_per_region_and_exits_0(aws):
    register_image(aws, "web-1")

    code, out, _ = run_command("sync_inventory", "--concurrency", "1")

    assert code == 0
    lines = out.splitlines()
    assert any(
        line.startswith(f"123456789012 {REGION}") and "1 images, 1 new" in line for line in lines
    )
    assert any(f"123456789012 {OTHER_REGION}" in line for line in lines)
    assert "succeeded" in lines[-1]


def test_it_exits_1_when_a_region_failed_and_saves_the_rest(aws, settings):
    settings.AWS_RETRY_MAX_ATTEMPTS = 1
    register_image(aws, "east-1")
    west = register_image(aws, "west-1", region=OTHER_REGION)
    aws.set_fault("throttle", region=REGION, action="DescribeImages")

    code, out, _ = run_command("sync_inventory", "--concurrency", "1")

    assert code == 1
    assert "RequestLimitExceeded" in out
    assert "partial" in out.splitlines()[-1]
    assert list(Image.objects.values_list("image_id", flat=True)) == [west]


def test_it_limits_the_sync_to_an_account_and_region(aws):
    register_image(aws, "east-1")

    code, out, _ = run_command(
        "sync_inventory",
        "--account",
        "123456789012",
        "--region",
        OTHER_REGION,
        "--concurrency",
        "1",
    )

    assert code == 0
    assert REGION + " " not in out
    assert not Image.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "12"], "12 digits"),
        (["--region", "mars"], "Region name"),
        (["--concurrency", "0"], "at least 1"),
    ],
)
def test_it_exits_2_for_a_usage_error(aws, args, message):
    code, _out, err = run_from_command_line("sync_inventory", *args)

    assert code == 2
    assert message in err
    assert not Image.objects.exists()


def test_it_exits_2_for_an_unknown_account(aws):
    run_command("sync_inventory", "--concurrency", "1")

    code, _, err = run_command("sync_inventory", "--account", "999999999999")

    assert code == 2
    assert "unknown account 999999999999" in err


# Threads use connections of their own, so the data must be committed. No serialized
# rollback: its flush skips post_migrate, which restores the role groups for the next tests.
@pytest.mark.django_db(transaction=True)
def test_it_runs_regions_in_threads(aws):
    register_image(aws, "east-1")
    register_image(aws, "west-1", region=OTHER_REGION)

    code, out, _ = run_command("sync_inventory", "--concurrency", "2")

    assert code == 0, out
    assert Image.objects.count() == 2
