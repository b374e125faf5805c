"""After each sync, every policy's plan is refreshed (a dry run) so pages show current plans."""

from __future__ import annotations

from typing import Any


def refresh_plans(sender: Any, **kwargs: Any) -> None:
    """Queue the refresh when the sync's transaction commits; nothing to do without policies."""
    from policies.models import Policy
    from policies.tasks import refresh_plans as task

    if Policy.objects.exists():
        task.delay_on_commit()
