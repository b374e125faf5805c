"""Lifecycle requests: one action over one or many images, its approvals and per-image items."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from lifecycle.choices import (
    FINAL_REQUEST_STATES,
    Decision,
    ItemStatus,
    RequestStatus,
)

#: Allowed request transitions (the state machine of a request).
REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    RequestStatus.PENDING: frozenset(
        {
            RequestStatus.APPROVED,
            RequestStatus.REJECTED,
            RequestStatus.CANCELLED,
            RequestStatus.EXPIRED,
        }
    ),
    RequestStatus.APPROVED: frozenset({RequestStatus.EXECUTING}),
    RequestStatus.EXECUTING: frozenset(
        {
            RequestStatus.SUCCEEDED,
            RequestStatus.PARTLY_FAILED,
            RequestStatus.FAILED,
            RequestStatus.NEEDS_REVIEW,
        }
    ),
}


def action_choices() -> list[tuple[str, str]]:
    """The actions a request may name: one per spec in ``lifecycle.actions`` (read when asked,
    so the models need not import the specs, and a new action needs no migration)."""
    from lifecycle.actions import action_choices as spec_choices

    return spec_choices()


class TransitionError(ValueError):
    """A state change that the state machine does not allow; the message says why."""


class LifecycleRequest(models.Model):
    """A request to run one action over one or many images, approved by other people.

    ``fingerprint`` binds what approvers sign off: the images, the action, its parameters, the
    override and the state each image was observed in. Execution acts only on exactly that.
    """

    action = models.CharField(max_length=32, choices=action_choices)
    parameters = models.JSONField(default=dict, blank=True)
    reason = models.TextField()
    ticket = models.CharField(max_length=128, blank=True)
    override_in_use = models.BooleanField(
        default=False, help_text="Disable or deregister even though something uses the image."
    )
    override_reason = models.TextField(blank=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lifecycle_requests"
    )
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    approvals_required = models.PositiveSmallIntegerField(default=1)
    fingerprint = models.CharField(max_length=64)
    provenance = models.JSONField(
        default=dict,
        blank=True,
        help_text="What proposed the request besides its requester: {summary, link, ...}.",
    )
    approvable_from = models.DateTimeField(
        null=True, blank=True, help_text="No approval before this time (owners' notice period)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("request_action", "Can request a lifecycle action"),
            ("approve_request", "Can approve or reject lifecycle requests"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="request_status_created"),
            models.Index(fields=["expires_at"], name="request_expires"),
        ]

    def __str__(self) -> str:
        return f"Request #{self.pk}: {self.get_action_display()}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_REQUEST_STATES

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.status == RequestStatus.PENDING and self.expires_at <= (now or timezone.now())

    def notice_pending(self, now: datetime | None = None) -> bool:
        """Whether the owners' notice period still holds approval back."""
        return self.approvable_from is not None and (now or timezone.now()) < self.approvable_from

    def check_transition(self, target: str) -> None:
        """Raise TransitionError when the request may not move to ``target`` now."""
        if target not in REQUEST_TRANSITIONS.get(self.status, frozenset()):
            raise TransitionError(
                f"Request #{self.pk} is {self.get_status_display().lower()}; "
                f"it cannot become {RequestStatus(target).label.lower()}."
            )

    def approvals(self) -> models.QuerySet[Approval]:
        return self.decisions.filter(decision=Decision.APPROVE)

    def audit_target(self):  # -> lifecycle.services.audit.Target
        from lifecycle.services.audit import Target

        return Target("request", str(self.pk), label=str(self)[:255])


class RequestItem(models.Model):
    """One image of a request (or, for an action on a setting, one account+Region with no
    image): what it looked like when requested, and what AWS answered."""

    request = models.ForeignKey(LifecycleRequest, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey(
        "inventory.Image",
        on_delete=models.PROTECT,
        related_name="lifecycle_items",
        null=True,
        blank=True,
        help_text="None when the item targets an account+Region's setting.",
    )
    ami_id = models.CharField(max_length=32, help_text="The AMI id, kept after the image is gone.")
    account_id = models.CharField(max_length=12)
    region = models.CharField(max_length=32)
    observed = models.JSONField(
        default=dict, help_text="The image as observed when requested (bound by the fingerprint)."
    )
    preview = models.JSONField(default=dict, blank=True, help_text="Warnings shown to approvers.")
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(
        max_length=32, blank=True, help_text="Fencing token of the worker holding the item."
    )
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Until when that worker holds it (renewed as it works)."
    )
    mutation_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the first AWS mutation for the item went out."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True, help_text="What AWS answered.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["request", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "image"], name="request_item_unique")
        ]
        indexes = [models.Index(fields=["status", "claimed_at"], name="item_status_claimed")]

    def __str__(self) -> str:
        return f"{self.target_label} in request #{self.request_id}"

    @property
    def target_label(self) -> str:
        return self.ami_id or f"{self.account_id} · {self.region}"

    def audit_target(self):  # -> lifecycle.services.audit.Target
        from lifecycle.services.audit import Target

        if self.image_id is None and not self.ami_id:
            return Target(
                "allowed_images", f"{self.account_id}/{self.region}", self.account_id, self.region
            )
        return Target("image", self.ami_id, self.account_id, self.region)


class Approval(models.Model):
    """One approver's decision (approve or reject) on a request; one per person and request.

    The fingerprint is the one the approver saw; a decision on anything else is refused.
    """

    request = models.ForeignKey(
        LifecycleRequest, on_delete=models.CASCADE, related_name="decisions"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lifecycle_decisions"
    )
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True)
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "approver"], name="one_decision_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.get_decision_display().lower()}d request #{self.request_id}"


class AccountScope(models.Model):
    """An account a user may see and act on. Deny by default: without scope rows a user has no
    account, unless their ``AccountAccess`` says all accounts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_scopes"
    )
    account = models.ForeignKey(
        "inventory.Account", on_delete=models.CASCADE, related_name="user_scopes"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="account_scope_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.account}"


class AccountAccess(models.Model):
    """The explicit "all accounts" flag: only with it does a user reach every account.

    Scope is deny by default, so removing a user's last ``AccountScope`` row leaves them no
    account instead of opening every one.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="account_access",
    )
    all_accounts = models.BooleanField(
        default=False,
        help_text="May see and act on every account; otherwise only the accounts of its scopes.",
    )

    class Meta:
        verbose_name_plural = "account access"

    def __str__(self) -> str:
        return f"{self.user}: {'all accounts' if self.all_accounts else 'scoped accounts'}"


class PacingBucket(models.Model):
    """A token bucket shared by every worker: mutations per account+Region+API (see pacing)."""

    key = models.CharField(max_length=128, unique=True)
    tokens = models.FloatField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.tokens:.1f}"
