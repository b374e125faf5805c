"""A plan becomes lifecycle requests: one per stage, account and Region.

Each request is made by lifecycle's own ``create_request`` in the name of the policy's last
editor, so it gets the same preview, fingerprint, four-eyes approval, drift check, in-use guard
and exactly-once execution as a hand-made one; the policy never executes anything itself. The
request carries its provenance (policy and plan), and each image's history says which policy
proposed it and why.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from lifecycle.models import AuditVerb, LifecycleRequest
from lifecycle.services.audit import Actor, EventDraft, Target, record_events
from lifecycle.services.requests import (
    MAX_IMAGES_PER_REQUEST,
    RequestDraft,
    RequestError,
    create_request,
)
from policies.choices import PlanDecision
from policies.models import Policy, PolicyPlan, PolicyProposal
from policies.services.evaluation import Plan, PlanRow
from policies.services.notice import give_notice


def _groups(rows: list[PlanRow]) -> dict[tuple[str, str, str], list[PlanRow]]:
    groups: dict[tuple[str, str, str], list[PlanRow]] = defaultdict(list)
    for row in rows:
        groups[(row.decision, row.image.account_id, row.image.region)].append(row)
    return dict(sorted(groups.items()))


def _parameters(policy: Policy, decision: str, now: datetime) -> dict[str, Any]:
    """The action's parameters. Deprecation takes effect at the policy's time, or else at the end
    of the approval window: AWS refuses a deprecation time that has passed by execution."""
    if decision == PlanDecision.DEPRECATE:
        latest = now + timedelta(days=settings.LIFECYCLE_REQUEST_EXPIRY_DAYS, minutes=1)
        return {"deprecate_at": max(policy.deprecate_at or latest, latest).isoformat()}
    if decision == PlanDecision.DEREGISTER:
        return {"delete_snapshots": policy.delete_snapshots}
    return {}


def _draft(
    stored: PolicyPlan, key: tuple[str, str, str], rows: list[PlanRow], now: datetime
) -> RequestDraft:
    policy = stored.policy
    decision, account, region = key
    reason = (
        f"Retention policy {policy.name} (plan #{stored.pk}): {decision} {len(rows)} image(s) "
        f"in {account}/{region} that no keep rule keeps."
    )
    if policy.description:
        reason += f"\n{policy.description}"
    link = reverse("policies:plan_detail", args=[policy.pk, stored.pk])
    return RequestDraft(
        action=decision,
        image_pks=[row.image.pk for row in rows],
        reason=reason,
        parameters=_parameters(policy, decision, now),
        provenance={
            "kind": "policy",
            "policy": policy.name,
            "policy_id": policy.pk,
            "plan_id": stored.pk,
            "summary": f"Policy {policy.name}, plan #{stored.pk}",
            "link": link,
        },
        approvable_from=now + timedelta(days=policy.notice_days) if policy.notice_days else None,
    )


def _history(request: LifecycleRequest, rows: list[PlanRow], actor: Actor, source: str) -> None:
    """One policy.proposed event per image: its timeline names the policy and the reasons."""
    name = request.provenance["policy"]
    record_events(
        EventDraft(
            verb=AuditVerb.POLICY_PROPOSED,
            actor=actor,
            source=source,
            target=Target(
                "image", r.image.image_id, r.image.account_id, r.image.region, r.image.name
            ),
            after={
                "policy": name,
                "plan": request.provenance["plan_id"],
                "request": request.pk,
                "decision": r.decision,
                "reasons": r.reasons,
            },
            message=f"Policy {name} proposed to {r.decision}: {'; '.join(r.reasons)}",
            correlation_id=f"request:{request.pk}",
        )
        for r in rows
    )


def _chunks(rows: list[PlanRow]) -> list[list[PlanRow]]:
    size = MAX_IMAGES_PER_REQUEST
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def propose(
    plan: Plan,
    stored: PolicyPlan,
    actor: Actor,
    source: str,
    agreed: dict[int, str] | None = None,
) -> list[LifecycleRequest]:
    """Make the plan's requests; a group that cannot be requested is named in the plan's
    ``proposal_errors`` and the others still go ahead.

    ``agreed`` (image pk -> decision), when given, is what a person reviewed: only rows whose
    decision is still the same are proposed, so nothing is requested that they did not see.
    """
    editor = stored.policy.updated_by
    now = timezone.now()
    made, errors = [], []
    actionable = plan.actionable()
    if agreed is not None:
        actionable = [row for row in actionable if agreed.get(row.image.pk) == row.decision]
    for key, rows in _groups(actionable).items():
        for chunk in _chunks(rows):
            try:
                made.append(_propose_group(stored, key, chunk, editor, actor, source, now))
            except (RequestError, PermissionDenied) as error:
                errors.append(f"{key[0]} in {key[1]}/{key[2]}: {error}")
    if editor is None and actionable:
        errors = ["The policy has no editor to make its requests: save it as a Requester."]
    PolicyPlan.objects.filter(pk=stored.pk).update(proposed_at=now, proposal_errors=errors)
    stored.proposed_at, stored.proposal_errors = now, errors
    return made


def _propose_group(
    stored: PolicyPlan,
    key: tuple[str, str, str],
    rows: list[PlanRow],
    editor: Any,
    actor: Actor,
    source: str,
    now: datetime,
) -> LifecycleRequest:
    if editor is None:
        raise PermissionDenied("no editor")
    with transaction.atomic():
        request = create_request(editor, _draft(stored, key, rows, now), source)
        proposal = PolicyProposal.objects.create(plan=stored, request=request)
        _history(request, rows, actor, source)
        if request.approvable_from is not None:
            transaction.on_commit(lambda: give_notice(proposal.pk, rows))
    return request
