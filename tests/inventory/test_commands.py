"""The sync_inventory and export_inventory commands (DESIGN.md contracts)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from inventory.models import Image
from tests.cli import run_from_command_line
from tests.inventory.conftest import OTHER_REGION, REGION, register_image

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


@pytest.fixture
def exported_estate(aws):
    kept = register_image(aws, "web-server-1.2.0", size_gib=10, tags={"team": "web"})
    gone = register_image(aws, "old-0.1")
    ec2 = aws.client("ec2", REGION)
    ec2.run_instances(ImageId=kept, MinCount=1, MaxCount=1)
    ec2.modify_image_attribute(ImageId=kept, LaunchPermission={"Add": [{"UserId": "111122223333"}]})
    run_command("sync_inventory", "--concurrency", "1")
    ec2.deregister_image(ImageId=gone)
    run_command("sync_inventory", "--concurrency", "1")
    return kept, gone


def test_it_exports_every_image_ever_seen_as_json(exported_estate):
    kept, gone = exported_estate

    code, out, _ = run_command("export_inventory", "--format", "json")

    assert code == 0
    records = {r["image_id"]: r for r in json.loads(out)}
    assert set(records) == {kept, gone}
    record = records[kept]
    assert record["account_id"] == "123456789012" and record["region"] == REGION
    assert record["state"] == "available" and record["gone_at"] is None
    assert record["in_use"] is True
    assert record["usage"][0]["type"] == "instance" and record["usage"][0]["id"].startswith("i-")
    assert record["shared_with"] == ["111122223333"]
    assert record["storage_gib"] == 10 and record["tags"] == {"team": "web"}
    assert record["age_days"] == 0
    assert record["creation_date"].endswith("Z") and record["first_seen_at"].endswith("Z")
    assert records[gone]["state"] == "deregistered"
    assert records[gone]["gone_at"].endswith("Z")
    for field in ("deprecation_time", "last_launched_time", "public", "last_seen_at", "name"):
        assert field in record


def test_it_exports_csv_with_a_header(exported_estate):
    kept, gone = exported_estate

    code, out, _ = run_command("export_inventory", "--format", "csv")

    assert code == 0
    rows = {r["image_id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {kept, gone}
    assert rows[kept]["in_use"] == "True"
    assert json.loads(rows[kept]["tags"]) == {"team": "web"}
    assert json.loads(rows[kept]["usage"])[0]["type"] == "instance"
    assert rows[gone]["state"] == "deregistered"


def test_it_refuses_an_unknown_export_format(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="invalid choice"):
        call_command("export_inventory", "--format", "xml")
