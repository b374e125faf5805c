"""After each sync, every policy's plan is refreshed (a dry run) so pages show current plans."""

from __future__ import annotations

from typing import Any


def refresh_plans(sender: Any, **kwargs: Any) -> None:
    from policies.tasks import refresh_plans as task

    task.delay_on_commit()
