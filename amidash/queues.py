"""Celery queues and which task goes to which.

Three queues so that slow work never delays urgent work: an approved deregistration must not wait
behind an hour of paced launch-permission reads. ``lifecycle`` carries execution and the
reconciler, ``sync`` the inventory fan-out and its reaper, ``background`` paced refreshes, the
sync's Inspector findings follow-up, audit digests, full audit verifications and
notifications. A worker consumes all
three (``-Q lifecycle,sync,background``), or a deployment gives each queue workers of its own.
``AMIDASH_QUEUE_PREFIX`` lets several installations (or tests) share one broker.
"""

from __future__ import annotations

LIFECYCLE = "lifecycle"
SYNC = "sync"
BACKGROUND = "background"
QUEUES = (LIFECYCLE, SYNC, BACKGROUND)

#: Every task of the project and its queue; a task missing here would go to the default queue.
TASK_QUEUES = {
    "lifecycle.tasks.execute_request": LIFECYCLE,
    "lifecycle.tasks.execute_request_part": LIFECYCLE,
    "lifecycle.tasks.reconcile_requests": LIFECYCLE,
    "inventory.tasks.scheduled_sync": SYNC,
    "inventory.tasks.prepare_sync_run": SYNC,
    "inventory.tasks.sync_account_region": SYNC,
    "inventory.tasks.queue_due_regions": SYNC,
    "inventory.tasks.reap_sync_runs": SYNC,
    "inventory.tasks.refresh_launch_permissions": BACKGROUND,
    "inventory.tasks.read_new_findings": BACKGROUND,
    "inventory.tasks.refresh_consumer_reports": BACKGROUND,
    "inventory.tasks.request_consumer_report": BACKGROUND,
    "lifecycle.tasks.write_audit_digest": BACKGROUND,
    "lifecycle.tasks.verify_audit_log_in_full": BACKGROUND,
    "lifecycle.tasks.deliver_monthly_report": BACKGROUND,
    "lifecycle.tasks.look_up_cloudtrail": BACKGROUND,
    "lifecycle.tasks.send_notification": BACKGROUND,
    "policies.tasks.evaluate_policy": BACKGROUND,
    "policies.tasks.evaluate_enabled_policies": BACKGROUND,
    "policies.tasks.refresh_plans": BACKGROUND,
    "amidash.tasks.ping": BACKGROUND,
}


def queue_names(prefix: str = "") -> list[str]:
    """The queues a worker consumes, as ``-Q`` takes them."""
    return [f"{prefix}{queue}" for queue in QUEUES]


def task_routes(prefix: str = "") -> dict[str, dict[str, str]]:
    """Celery's ``task_routes``: each task to its (prefixed) queue."""
    return {task: {"queue": f"{prefix}{queue}"} for task, queue in TASK_QUEUES.items()}
