"""AWS accounts and their Regions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from amidash.fields import account_id_validator
from inventory.choices import OptInStatus
from inventory.models.querysets import AccountQuerySet, AccountRowQuerySet

role_arn_validator = RegexValidator(
    r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
    "A role ARN looks like arn:aws:iam::123456789012:role/name.",
)


class Account(models.Model):
    """An AWS account whose images are inventoried.

    With no ``role_arn`` the ambient credentials are used (that account is registered
    automatically on the first sync); otherwise the sync assumes the role, with ``external_id``.
    """

    account_id = models.CharField(max_length=12, unique=True, validators=[account_id_validator])
    name = models.CharField(max_length=128, blank=True)
    role_arn = models.CharField(max_length=2048, blank=True, validators=[role_arn_validator])
    external_id = models.CharField(max_length=1224, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name", "account_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})" if self.name else self.account_id

    @property
    def uses_ambient_credentials(self) -> bool:
        return not self.role_arn

    @property
    def role_account_id(self) -> str:
        """The account named in the role ARN ("" without one)."""
        parts = self.role_arn.split(":")
        return parts[4] if len(parts) > 4 else ""

    def clean(self) -> None:
        """A role ARN names this account, and only one account uses the ambient credentials.

        Credentials reach exactly one account, so a role of another account, or a second account
        on the ambient credentials, would list someone else's images (invariant 9 in
        docs/architecture.md).
        """
        if self.role_arn and self.role_account_id != self.account_id:
            raise ValidationError(
                {
                    "role_arn": f"This role belongs to account {self.role_account_id}, "
                    f"not {self.account_id}."
                }
            )
        if self.role_arn:
            return
        other = Account.objects.filter(role_arn="").exclude(pk=self.pk).first()
        if other is not None:
            raise ValidationError(
                {
                    "role_arn": f"Account {other.account_id} already uses the ambient "
                    "credentials; give this account a role ARN."
                }
            )


class AccountRegion(models.Model):
    """A Region of an account as DescribeRegions reports it, and how its last sync went.

    ``last_listed_at`` is the time of the last complete, error-free listing: every image of this
    account+Region that is not gone was seen then (a re-sync of an unchanged estate writes no
    image rows, so the image rows do not carry that time themselves).
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="regions")
    region = models.CharField(max_length=32)
    opt_in_status = models.CharField(
        max_length=24, choices=OptInStatus.choices, default=OptInStatus.NOT_REQUIRED
    )
    synced = models.BooleanField(default=True, help_text="Whether the sync lists this Region.")
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_status = models.CharField(max_length=16, blank=True)
    last_listed_at = models.DateTimeField(null=True, blank=True)
    last_launch_permissions_at = models.DateTimeField(null=True, blank=True)

    objects = AccountRowQuerySet.as_manager()

    class Meta:
        ordering = ["account", "region"]
        constraints = [
            models.UniqueConstraint(fields=["account", "region"], name="account_region_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account.account_id}/{self.region}"

    @property
    def is_opted_in(self) -> bool:
        return self.opt_in_status != OptInStatus.NOT_OPTED_IN
