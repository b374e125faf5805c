"""Telling image owners what a policy proposes before anyone may approve it.

An image's owner is named by the policy's ``owner_tag``: an email address, or a team that
``POLICY_TEAM_EMAILS`` maps to one. Each owner gets one email listing their images and when the
request can be approved; the webhook gets the whole list, owners or not.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings

from lifecycle.models import LifecycleRequest
from lifecycle.services import notifications
from policies.models import Policy, PolicyProposal
from policies.services.evaluation import PlanRow


def owner_address(tags: dict[str, str], owner_tag: str) -> str:
    """The address an owner tag names, or "" when it names nobody amidash can reach."""
    value = (tags or {}).get(owner_tag, "").strip()
    if "@" in value:
        return value
    return settings.POLICY_TEAM_EMAILS.get(value, "")


def owners_of(rows: list[PlanRow], owner_tag: str) -> dict[str, list[PlanRow]]:
    """Rows by owner address ("" for images whose owner is unknown)."""
    found: dict[str, list[PlanRow]] = defaultdict(list)
    for row in rows:
        found[owner_address(row.image.tags, owner_tag)].append(row)
    return dict(found)


def _body(policy: Policy, request: LifecycleRequest, rows: list[PlanRow]) -> str:
    lines = [f"  {r.image.image_id} {r.image.name} ({r.image.account_id}/{r.image.region})"
             for r in rows]  # fmt: skip
    return (
        f"Retention policy {policy.name} proposes to {request.action} these images "
        f"(request #{request.pk}):\n" + "\n".join(lines) + "\n\n"
        f"It can be approved from {request.approvable_from:%Y-%m-%d %H:%M} UTC. "
        "Tell the requester or an approver if an image must stay.\n"
    )


def give_notice(proposal_pk: int, rows: list[PlanRow]) -> list[str]:
    """Email each owner and post to the webhook; returns the addresses told."""
    proposal = PolicyProposal.objects.select_related("plan__policy", "request").get(pk=proposal_pk)
    policy, request = proposal.plan.policy, proposal.request
    owners = owners_of(rows, policy.owner_tag)
    subject = f"[amidash] Policy {policy.name} proposes to {request.action} your images"
    for address, owned in sorted(owners.items()):
        if address:
            notifications.tell(subject, _body(policy, request, owned), [address], {})
    told = sorted(address for address in owners if address)
    notifications.post_webhook(
        {
            "text": f"Policy {policy.name} proposes request #{request.pk}: {request.action} of "
            f"{len(rows)} image(s); approvable from {request.approvable_from:%Y-%m-%d %H:%M} UTC",
            "policy": policy.name,
            "request": request.pk,
            "approvable_from": request.approvable_from.isoformat(),
            "owners": {a or "unknown": [r.image.image_id for r in o] for a, o in owners.items()},
        }
    )
    PolicyProposal.objects.filter(pk=proposal.pk).update(notified=told)
    return told
