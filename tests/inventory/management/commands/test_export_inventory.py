"""The export_inventory command, as the README documents it: every image ever seen, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from tests.amidash.sandbox.images import REGION, register_image
from tests.inventory.management.commands.test_sync_inventory import run_command

pytestmark = pytest.mark.django_db


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
