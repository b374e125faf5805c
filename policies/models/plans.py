"""Stored plans: what a policy decided for each image at one evaluation, and what it proposed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from policies.choices import PlanDecision


class PolicyPlan(models.Model):
    """One evaluation of a policy: totals, the difference from the previous plan, its rows.

    Older plans keep their totals; their rows are pruned (``POLICY_PLANS_KEPT`` per policy).
    """

    policy = models.ForeignKey("policies.Policy", on_delete=models.CASCADE, related_name="plans")
    evaluated_at = models.DateTimeField(default=timezone.now)
    evaluated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=16)
    settings_snapshot = models.JSONField(default=dict, help_text="The policy as evaluated.")
    totals = models.JSONField(default=dict)
    changes = models.JSONField(default=dict, help_text="Difference from the previous plan.")
    previous = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    proposed_at = models.DateTimeField(null=True, blank=True)
    proposal_errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-evaluated_at", "-pk"]
        indexes = [models.Index(fields=["policy", "-evaluated_at"], name="plan_policy_time")]

    def __str__(self) -> str:
        return f"Plan #{self.pk} of {self.policy}"

    @property
    def action_count(self) -> int:
        decisions = self.totals.get("decisions", {})
        return sum(decisions.get(d, 0) for d in ("deprecate", "disable", "deregister"))


class PlanEntry(models.Model):
    """One image of a plan: its decision and every reason for it."""

    # Rows are written with one COPY in the transaction that makes their plan, and deleted with
    # it: the database checks no reference per row (100,000 deferred checks at commit), and the
    # index on (plan, decision) serves every lookup by plan.
    plan = models.ForeignKey(
        PolicyPlan,
        on_delete=models.CASCADE,
        related_name="entries",
        db_constraint=False,
        db_index=False,
    )
    image = models.ForeignKey(
        "inventory.Image", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    image_ref = models.CharField(max_length=32)
    account_id = models.CharField(max_length=12)
    region = models.CharField(max_length=32)
    name = models.CharField(max_length=255, blank=True)
    family = models.CharField(max_length=255, blank=True)
    decision = models.CharField(max_length=16, choices=PlanDecision.choices)
    reasons = models.JSONField(default=list)
    storage_gib = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["plan", "pk"]
        indexes = [models.Index(fields=["plan", "decision"], name="plan_entry_decision")]

    def __str__(self) -> str:
        return f"{self.image_ref}: {self.decision}"


class PolicyProposal(models.Model):
    """A lifecycle request a plan proposed (one per stage, account and Region)."""

    plan = models.ForeignKey(PolicyPlan, on_delete=models.CASCADE, related_name="proposals")
    request = models.OneToOneField(
        "lifecycle.LifecycleRequest", on_delete=models.CASCADE, related_name="policy_proposal"
    )
    notified = models.JSONField(default=list, blank=True, help_text="Owners told, by address.")

    def __str__(self) -> str:
        return f"{self.plan} proposed request #{self.request_id}"
