"""Accounts and their Regions: the ambient account, and Region discovery."""

from __future__ import annotations

from inventory.choices import OptInStatus
from inventory.models import Account, AccountRegion
from inventory.services.aws import AwsSession, home_region, partition_of


def register_ambient_account() -> Account:
    """The account of the ambient credentials, registered on the first sync."""
    account_id = AwsSession().caller_account_id()
    account, _ = Account.objects.get_or_create(
        account_id=account_id, defaults={"name": "Ambient credentials"}
    )
    return account


def discover_regions(account: Account, session: AwsSession) -> list[AccountRegion]:
    """Every Region of the credentials' partition with its opt-in status, saved on the account.

    DescribeRegions(AllRegions=True) also names Regions the account has not opted in to; they
    are kept (and shown as skipped), never listed.
    """
    region = home_region()
    response = session.client("ec2", region).describe_regions(AllRegions=True)
    partition = partition_of(region)
    found: list[AccountRegion] = []
    for entry in sorted(response.get("Regions", []), key=lambda r: r["RegionName"]):
        name = entry["RegionName"]
        if partition_of(name) != partition:
            continue
        status = entry.get("OptInStatus") or OptInStatus.NOT_REQUIRED
        account_region, created = AccountRegion.objects.get_or_create(
            account=account, region=name, defaults={"opt_in_status": status}
        )
        if not created and account_region.opt_in_status != status:
            account_region.opt_in_status = status
            account_region.save(update_fields=["opt_in_status"])
        found.append(account_region)
    return found
