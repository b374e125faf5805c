"""Invariant 9 in docs/architecture.md: a listing counts only if the credentials reached the
account it is filed under (STS GetCallerIdentity names the account credentials act in)."""

from __future__ import annotations

import pytest

from inventory.choices import RegionSyncStatus, SyncStatus
from inventory.models import Account, Image
from inventory.services.aws import AwsSession, WrongAccount
from tests.inventory.conftest import REGION, register_image, sync

pytestmark = pytest.mark.django_db

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
