"""After a sync, policies that have no plan yet get one (a dry run), so their pages and the
Overview show a plan from the first sync on; later plans come from the schedule or on demand."""

from __future__ import annotations

from typing import Any


def plan_unplanned_policies(sender: Any, **kwargs: Any) -> None:
    """Queue the plans when the sync's transaction commits; nothing to do when every policy
    has a plan already."""
    from policies.models import Policy
    from policies.tasks import refresh_plans

    if Policy.objects.filter(plans__isnull=True).exists():
        refresh_plans.delay_on_commit(unplanned_only=True)
