"""What the policies add to the Overview's cleanup card: each policy's latest plan."""

from __future__ import annotations

from typing import Any

from policies.models import PolicyPlan
from policies.services.policies import may_view

SHOWN = 3


def cleanup_panel(user: Any) -> dict[str, Any] | None:
    """The latest plan of up to three policies, or None when no policy has a plan or ``user``
    may not read policies."""
    if not may_view(user):
        return None
    plans = list(
        PolicyPlan.objects.select_related("policy")
        .order_by("policy_id", "-evaluated_at", "-pk")
        .distinct("policy_id")[:SHOWN]
    )
    if not plans:
        return None
    return {"template": "policies/partials/cleanup_panel.html", "plans": plans}
