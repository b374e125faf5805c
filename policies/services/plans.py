"""Stored plans: a plan saved with its rows, compared with the policy's previous plan.

Rows are kept for the last ``POLICY_PLANS_KEPT`` plans of a policy (older plans keep their
totals and changes), so hourly evaluations of a large estate do not grow without bound.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from lifecycle.services.audit import Actor
from policies.choices import PlanDecision
from policies.models import PlanEntry, Policy, PolicyPlan
from policies.services.evaluation import Plan, evaluate, totals

BATCH = 5000


def plan_entries(plan: PolicyPlan, params: Any) -> tuple[QuerySet[PlanEntry], dict[str, str]]:
    """The plan's rows filtered by decision, family and a search term (unknown values ignored),
    and the filters that were applied."""
    entries = plan.entries.all()
    chosen = {
        "decision": params.get("decision", ""),
        "family": params.get("family", "")[:255],
        "q": params.get("q", "").strip()[:100],
    }
    if chosen["decision"] in PlanDecision.values:
        entries = entries.filter(decision=chosen["decision"])
    else:
        chosen["decision"] = ""
    if chosen["family"]:
        entries = entries.filter(family=chosen["family"])
    if chosen["q"]:
        entries = entries.filter(name__icontains=chosen["q"]) | entries.filter(
            image_ref=chosen["q"]
        )
    return entries, chosen


def plan_changes(previous: PolicyPlan | None, plan: Plan) -> dict[str, Any]:
    """How the plan differs from the previous one: images new to scope, gone from it, and
    decisions that changed (counted as "old → new")."""
    if previous is None:
        return {}
    before = dict(previous.entries.values_list("image_id", "decision"))
    now = {row.image.pk: row.decision for row in plan.rows}
    moved = Counter(
        f"{before[pk]} → {decision}"
        for pk, decision in now.items()
        if pk in before and before[pk] != decision
    )
    return {
        "previous": previous.pk,
        "new": sum(1 for pk in now if pk not in before),
        "left": sum(1 for pk in before if pk not in now),
        "changed": dict(sorted(moved.items())),
        "changed_total": sum(moved.values()),
    }


def _user(actor: Actor) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


def save_plan(plan: Plan, actor: Actor, source: str) -> PolicyPlan:
    """Store the plan and its rows; prune the rows of plans beyond the kept number."""
    policy = plan.policy
    previous = PolicyPlan.objects.filter(policy=policy).order_by("-evaluated_at", "-pk").first()
    with transaction.atomic():
        stored = PolicyPlan.objects.create(
            policy=policy,
            evaluated_at=plan.evaluated_at,
            evaluated_by=_user(actor),
            source=source,
            settings_snapshot=policy.document(),
            totals=totals(plan),
            changes=plan_changes(previous, plan),
            previous=previous,
        )
        PlanEntry.objects.bulk_create(
            (
                PlanEntry(
                    plan=stored,
                    image_id=row.image.pk,
                    image_ref=row.image.image_id,
                    account_id=row.image.account_id,
                    region=row.image.region,
                    name=row.image.name[:255],
                    family=row.image.family[:255],
                    decision=row.decision,
                    reasons=row.reasons,
                    storage_gib=row.image.storage_gib,
                )
                for row in plan.rows
            ),
            batch_size=BATCH,
        )
        prune_plans(policy)
    return stored


def prune_plans(policy: Policy) -> int:
    """Delete the rows of all but the newest kept plans of the policy; returns rows deleted."""
    kept = PolicyPlan.objects.filter(policy=policy).order_by("-evaluated_at", "-pk")
    old = kept.values_list("pk", flat=True)[settings.POLICY_PLANS_KEPT :]
    deleted, _ = PlanEntry.objects.filter(plan_id__in=list(old)).delete()
    return deleted


def evaluate_and_save(policy: Policy, actor: Actor, source: str) -> tuple[Plan, PolicyPlan]:
    plan = evaluate(policy)
    return plan, save_plan(plan, actor, source)
