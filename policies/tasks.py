"""Scheduled evaluation: every enabled policy is evaluated, and proposes when its plan acts."""

from __future__ import annotations

from celery import shared_task

from lifecycle.models import AuditSource
from policies.models import Policy
from policies.services.plans import evaluate_and_save
from policies.services.proposals import propose


@shared_task
def evaluate_policy(policy_pk: int) -> int:
    """Evaluate one enabled policy, store its plan, propose its actions; returns requests made."""
    policy = Policy.objects.select_related("updated_by").filter(pk=policy_pk, enabled=True).first()
    if policy is None:
        return 0
    plan, stored = evaluate_and_save(policy, None, AuditSource.BEAT)
    if not plan.actionable():
        return 0
    return len(propose(plan, stored, None, AuditSource.BEAT))


@shared_task
def evaluate_enabled_policies() -> int:
    """Queue one evaluation per enabled policy; returns how many."""
    pks = list(Policy.objects.filter(enabled=True).values_list("pk", flat=True))
    for pk in pks:
        evaluate_policy.delay(pk)
    return len(pks)


@shared_task
def refresh_plans(disabled_only: bool = False, unplanned_only: bool = False) -> int:
    """Store a fresh plan of every policy, proposing nothing; returns how many.

    Beat refreshes the disabled policies (``evaluate_enabled_policies`` stores the enabled
    ones' plans on the same schedule); a finished sync plans the policies that have no plan
    yet. Other plans are made on demand ("Evaluate now"): storing a plan of a large estate
    takes seconds, too much to repeat for every policy after every sync."""
    policies = Policy.objects.select_related("updated_by")
    if disabled_only:
        policies = policies.filter(enabled=False)
    if unplanned_only:
        policies = policies.filter(plans__isnull=True)
    count = 0
    for policy in policies:
        evaluate_and_save(policy, None, AuditSource.SYSTEM)
        count += 1
    return count
