"""The sync against the sandbox server, reached only through AWS_ENDPOINT_URL: nothing in the
product special-cases the sandbox, and HTTP-level failures fail a Region like any other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amidash.sandbox import Sandbox, connect
from inventory.choices import RegionSyncStatus, SyncStatus
from inventory.models import Account, Image
from inventory.services.aws import AwsSession, WrongAccount
from tests.amidash.sandbox.images import OTHER_REGION, REGION, register_image
from tests.amidash.sandbox.process import SandboxProcess
from tests.factories import sync
from tests.inventory.management.commands.test_sync_inventory import run_command

pytestmark = pytest.mark.django_db


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


@pytest.mark.integration
def test_it_syncs_through_the_endpoint_url(server):
    image_id = register_image(server, "served-1")
    server.client("ec2", REGION).run_instances(ImageId=image_id, MinCount=1, MaxCount=1)

    code, out, _ = run_command("sync_inventory", "--concurrency", "1")

    assert code == 0, out
    image = Image.objects.get(image_id=image_id)
    assert image.in_use and image.storage_gib == 8
    assert server.calls(action="DescribeImages", region=REGION)


@pytest.mark.integration
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


# Invariant 9 in docs/architecture.md: a listing counts only if the credentials reached the
# account it is filed under (STS GetCallerIdentity names the account credentials act in).
AMBIENT = "123456789012"
OTHER = "210987654321"


@pytest.fixture
def their_images(aws):
    """An account reached through its own role, synced once, with one image."""
    account = Account.objects.create(account_id=OTHER, role_arn=f"arn:aws:iam::{OTHER}:role/r")
    Account.objects.create(account_id=AMBIENT, name="tools")
    register_image(aws, "mine", account_id=AMBIENT)
    image_id = register_image(aws, "theirs", account_id=OTHER)
    assert sync().status == SyncStatus.SUCCEEDED
    return account, image_id


def test_it_fails_an_account_whose_role_reaches_another_account(aws, their_images):
    account, image_id = their_images
    # A mistyped role ARN (another account's role) saved without the admin's checks.
    Account.objects.filter(pk=account.pk).update(role_arn=f"arn:aws:iam::{AMBIENT}:role/r")

    run = sync()

    failed = run.results.filter(account=account)
    assert failed.count() == 2
    assert {r.status for r in failed} == {RegionSyncStatus.FAILED}
    assert {r.error for r in failed} == {f"credentials reach {AMBIENT}, registered as {OTHER}"}
    assert run.status == SyncStatus.PARTIAL
    assert Image.objects.get(image_id=image_id).gone_at is None
    assert not Image.objects.filter(account=account).exclude(image_id=image_id).exists()


def test_it_fails_a_second_account_left_on_the_ambient_credentials(aws, their_images):
    account, image_id = their_images
    Account.objects.filter(pk=account.pk).update(role_arn="")

    run = sync()

    assert {r.error for r in run.results.filter(account=account)} == {
        f"credentials reach {AMBIENT}, registered as {OTHER}"
    }
    assert Image.objects.get(image_id=image_id).gone_at is None
    assert Image.objects.filter(account=account).count() == 1


def test_it_asks_sts_once_per_session_and_refuses_every_client(aws):
    session = AwsSession(Account(account_id=OTHER))

    for _ in range(2):
        with pytest.raises(WrongAccount, match=f"credentials reach {AMBIENT}"):
            session.client("ec2", REGION)

    assert len(aws.calls(action="GetCallerIdentity")) == 1
    assert session.stats.calls == 0
    assert not aws.calls(action="DescribeImages")
