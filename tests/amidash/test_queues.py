"""Every task has a queue (urgent work never waits behind slow work) and soft and hard time
limits (no task runs for ever)."""

from __future__ import annotations

import pytest

from amidash.celery import app
from amidash.queues import BACKGROUND, LIFECYCLE, SYNC, TASK_QUEUES

PROJECT_APPS = ("amidash.", "inventory.", "lifecycle.", "policies.")


def project_tasks() -> dict:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith(PROJECT_APPS)}


def test_every_task_of_the_project_has_a_queue():
    assert set(project_tasks()) == set(TASK_QUEUES)


@pytest.mark.parametrize(
    "task, queue",
    [
        ("lifecycle.tasks.execute_request", LIFECYCLE),
        ("lifecycle.tasks.reconcile_requests", LIFECYCLE),
        ("inventory.tasks.sync_account_region", SYNC),
        ("inventory.tasks.refresh_launch_permissions", BACKGROUND),
        ("lifecycle.tasks.send_notification", BACKGROUND),
    ],
)
def test_it_routes_each_kind_of_work_to_its_own_queue(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_task_has_soft_and_hard_time_limits():
    for name, task in project_tasks().items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, name
