"""The dashboards over data that a real sync of the sandbox wrote (no factories)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from amidash.sandbox import sandbox
from inventory.models import Image
from inventory.services.sync import run_sync

REGION = "us-east-1"
OTHER_REGION = "eu-west-1"


def _register(aws, name: str, region: str = REGION, size: int = 8, tags=None) -> str:
    ec2 = aws.client("ec2", region)
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=size)
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])
    params = {
        "Name": name,
        "Architecture": "x86_64",
        "RootDeviceName": "/dev/xvda",
        "VirtualizationType": "hvm",
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot["SnapshotId"]}}
        ],
    }
    if tags:
        params["TagSpecifications"] = [
            {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return ec2.register_image(**params)["ImageId"]


@pytest.fixture
def synced(settings, db):
    """Four images in two Regions, one used by a running instance, one shared; then a sync."""
    settings.SYNC_REGIONS = [REGION, OTHER_REGION]
    with sandbox() as aws:
        used = _register(aws, "api-1.0.0", tags={"team": "api"})
        unused = _register(aws, "api-0.9.0", tags={"team": "api"})
        shared = _register(aws, "base-2024.01", OTHER_REGION)
        other = _register(aws, "tools-3", OTHER_REGION, tags={"team": "ops"})
        aws.client("ec2", REGION).run_instances(
            ImageId=used, MinCount=1, MaxCount=1, InstanceType="t3.micro"
        )
        aws.client("ec2", OTHER_REGION).modify_image_attribute(
            ImageId=shared,
            LaunchPermission={"Add": [{"UserId": "210987654321"}]},
        )
        run = run_sync(None)
        yield {"run": run, "used": used, "unused": unused, "shared": shared, "other": other}


def _ids(response) -> set[str]:
    return set(re.findall(r'href="/images/\d+/">(ami-[0-9a-f]+)<', response.content.decode()))


def test_it_lists_filters_and_exports_what_the_sync_found(viewer_client, synced) -> None:
    assert synced["run"].status == "succeeded"
    assert _ids(viewer_client.get("/images/")) == {
        synced[k] for k in ("used", "unused", "shared", "other")
    }
    assert _ids(viewer_client.get("/images/", {"in_use": "yes"})) == {synced["used"]}
    assert _ids(viewer_client.get("/images/", {"tag_key": "team", "tag_value": "api"})) == {
        synced["used"],
        synced["unused"],
    }
    assert _ids(viewer_client.get("/images/", {"region": OTHER_REGION})) == {
        synced["shared"],
        synced["other"],
    }
    assert _ids(viewer_client.get("/images/", {"exposure": "shared"})) == {synced["shared"]}
    exported = viewer_client.get("/images/export.json", {"region": OTHER_REGION})
    records = json.loads(b"".join(exported.streaming_content))
    assert {r["image_id"] for r in records} == {synced["shared"], synced["other"]}


def test_it_shows_the_instance_that_uses_an_image(viewer_client, synced) -> None:
    image = Image.objects.get(image_id=synced["used"])
    body = viewer_client.get(reverse("inventory:image_detail", args=[image.pk])).content.decode()
    assert "Instance (1)" in body
    assert re.search(r"i-[0-9a-f]{8,}", body)


def test_it_shows_the_run_and_the_overview_figures(viewer_client, synced) -> None:
    run = synced["run"]
    detail = viewer_client.get(reverse("inventory:sync_run_detail", args=[run.pk]))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", detail.content.decode()))
    assert f"{REGION} succeeded 2" in text and f"{OTHER_REGION} succeeded 2" in text
    overview = viewer_client.get("/").content.decode()
    overview_text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", overview))
    assert "4 current images" in overview_text
    assert "3 unused · 1 in use" in overview_text
