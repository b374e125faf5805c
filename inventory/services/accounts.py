"""Accounts and their Regions: the ambient account, and Region discovery."""

from __future__ import annotations

from inventory.choices import OptInStatus
from inventory.models import Account, AccountRegion
from inventory.services.aws import AWS_ERRORS, AwsSession, describe_error, home_region, partition_of


class AmbientCredentialsError(ValueError):
    """The ambient credentials do not reach the account they are meant for, or cannot be asked."""


def register_ambient_account() -> Account:
    """The account of the ambient credentials, registered on the first sync."""
    account_id = AwsSession().caller_account_id()
    account, _ = Account.objects.get_or_create(
        account_id=account_id, defaults={"name": "Ambient credentials"}
    )
    return account


def check_ambient_account(account_id: str) -> None:
    """Raise AmbientCredentialsError unless the ambient credentials reach ``account_id``."""
    try:
        reached = AwsSession().caller_account_id()
    except AWS_ERRORS as error:
        raise AmbientCredentialsError(
            f"cannot ask which account the ambient credentials reach: {describe_error(error)}"
        ) from None
    if reached != account_id:
        raise AmbientCredentialsError(
            f"the ambient credentials reach {reached}, not {account_id}: give a role ARN"
        )


def discover_regions(account: Account, session: AwsSession) -> list[AccountRegion]:
    """Every Region of the credentials' partition with its opt-in status, saved on the account.

    DescribeRegions(AllRegions=True) also names Regions the account has not opted in to; they
    are kept (and shown as skipped), never listed.
    """
    region = home_region()
    response = session.client("ec2", region).describe_regions(AllRegions=True)
    partition = partition_of(region)
    statuses = {
        entry["RegionName"]: entry.get("OptInStatus") or OptInStatus.NOT_REQUIRED
        for entry in response.get("Regions", [])
        if partition_of(entry["RegionName"]) == partition
    }
    known = {r.region: r for r in AccountRegion.objects.filter(account=account)}
    changed = [
        r for name, r in known.items() if name in statuses and r.opt_in_status != statuses[name]
    ]
    for account_region in changed:
        account_region.opt_in_status = statuses[account_region.region]
    AccountRegion.objects.bulk_update(changed, ["opt_in_status"])
    AccountRegion.objects.bulk_create(
        [
            AccountRegion(account=account, region=name, opt_in_status=status)
            for name, status in statuses.items()
            if name not in known
        ],
        ignore_conflicts=True,
    )
    return list(
        AccountRegion.objects.filter(account=account, region__in=statuses).order_by("region")
    )
