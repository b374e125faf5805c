"""Fixtures for lifecycle tests: the sandbox, images registered in it and synced, requests."""

from __future__ import annotations

from typing import Any

import pytest

from amidash.sandbox import sandbox
from inventory.models import Image
from inventory.services.sync import run_sync
from lifecycle.models import AuditEvent, AuditSource, LifecycleRequest
from lifecycle.services.requests import RequestDraft, approve_request, create_request
from tests.amidash.sandbox.images import register_ebs_image
from tests.conftest import make_user

REGION = "us-east-1"
OTHER_REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def database(request) -> None:
    """Every lifecycle test uses the database (transactional where a worker or thread reads it)."""
    fixture = "transactional_db" if "transactional_db" in request.fixturenames else "db"
    request.getfixturevalue(fixture)


@pytest.fixture(autouse=True)
def lifecycle_settings(settings):
    """Quick pacing and no network for notifications; one approval per action."""
    settings.SYNC_REGIONS = [REGION]
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 1000.0
    settings.LIFECYCLE_MUTATION_BURST = 1000
    settings.LIFECYCLE_APPROVALS_REQUIRED = {}
    settings.LIFECYCLE_WEBHOOK_URL = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


@pytest.fixture
def aws():
    with sandbox() as handle:
        yield handle


def ec2_client(aws: Any, region: str = REGION) -> Any:
    """One client per sandbox and Region (making a boto3 client is the slow part)."""
    clients = aws.__dict__.setdefault("_test_clients", {})
    if region not in clients:
        clients[region] = aws.client("ec2", region)
    return clients[region]


def register_image(
    aws: Any, name: str, region: str = REGION, size_gib: int = 8, tags: dict | None = None
) -> str:
    """Register an EBS-backed image with one snapshot; returns its id."""
    ec2 = ec2_client(aws, region)
    return register_ebs_image(ec2, name, region, size_gib, tags)


def launch(aws: Any, image_id: str, region: str = REGION) -> str:
    answer = ec2_client(aws, region).run_instances(
        ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    return answer["Instances"][0]["InstanceId"]


def sync() -> None:
    run_sync(None)


def image(image_id: str) -> Image:
    return Image.objects.select_related("account").get(image_id=image_id)


def ask(
    requester,
    action: str,
    image_ids: list[str],
    reason: str = "cleanup of old builds",
    **options: Any,
) -> LifecycleRequest:
    pks = [image(i).pk for i in image_ids]
    draft = RequestDraft(action=action, image_pks=pks, reason=reason, **options)
    return create_request(requester, draft, AuditSource.WEB)


def request_events(request: LifecycleRequest):
    """The audit events of this request.

    The audit log is never flushed, while request numbers start again after a flush (one test
    flushes): events an earlier test committed may name the same ``request:<pk>``, but they
    happened before this request was made.
    """
    return AuditEvent.objects.filter(
        correlation_id=f"request:{request.pk}", occurred_at__gte=request.created_at
    )


def approve(approver, request: LifecycleRequest, comment: str = "ok") -> LifecycleRequest:
    return approve_request(approver, request.pk, request.fingerprint, comment, AuditSource.WEB)


@pytest.fixture
def second_approver(db):
    from amidash.roles import Role

    return make_user("bea", Role.APPROVER)


@pytest.fixture
def eager_celery():
    """Tasks run in this process when queued (after commit for ``delay_on_commit``)."""
    from amidash.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager
