"""The sync against the sandbox server, reached only through AWS_ENDPOINT_URL: nothing in the
product special-cases the sandbox, and HTTP-level failures fail a Region like any other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amidash.sandbox import Sandbox, connect
from inventory.choices import RegionSyncStatus
from inventory.models import Image
from tests.amidash.sandbox.images import OTHER_REGION, REGION, register_image
from tests.amidash.sandbox.process import SandboxProcess
from tests.inventory.management.commands.test_sync_inventory import run_command

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture(scope="module")
def server_endpoint() -> Iterator[str]:
    server = SandboxProcess("--port", "0", "--estate", "empty")
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def server(server_endpoint: str, settings) -> Iterator[Sandbox]:
    settings.SYNC_REGIONS = [REGION, OTHER_REGION]
    settings.AWS_RETRY_MAX_ATTEMPTS = 1
    with connect(server_endpoint) as handle:
        handle.reset()
        yield handle


def test_it_syncs_through_the_endpoint_url(server):
    image_id = register_image(server, "served-1")
    server.client("ec2", REGION).run_instances(ImageId=image_id, MinCount=1, MaxCount=1)

    code, out, _ = run_command("sync_inventory", "--concurrency", "1")

    assert code == 0, out
    image = Image.objects.get(image_id=image_id)
    assert image.in_use and image.storage_gib == 8
    assert server.calls(action="DescribeImages", region=REGION)


def test_it_fails_a_region_whose_answers_cannot_be_parsed(server):
    kept = register_image(server, "kept-1")
    run_command("sync_inventory", "--concurrency", "1")
    server.client("ec2", REGION).deregister_image(ImageId=kept)
    server.set_fault("malformed", region=REGION, action="DescribeImages")

    code, out, _ = run_command("sync_inventory", "--concurrency", "1")

    assert code == 1
    assert "ResponseParserError" in out
    assert Image.objects.get(image_id=kept).gone_at is None
    from inventory.models import SyncRegionResult

    latest = SyncRegionResult.objects.filter(region=REGION).latest("pk")
    assert latest.status == RegionSyncStatus.FAILED
