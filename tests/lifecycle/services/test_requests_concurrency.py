"""Two approvers approving the same request at the same moment (real transactions)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from amidash.roles import Role
from lifecycle.choices import RequestStatus
from lifecycle.models import Approval, AuditEvent, LifecycleRequest
from lifecycle.services.audit import chain_head
from lifecycle.services.requests import RequestError
from tests.amidash.sandbox.images import register_image
from tests.factories import approve, ask, create_user, sync


def _approve_in_thread(user, request, barrier, outcomes) -> None:
    try:
        barrier.wait()
        outcomes.append(approve(user, request).status)
    except RequestError as error:
        outcomes.append(str(error))
    finally:
        connection.close()


@pytest.mark.parametrize("required", [1, 2])
def test_it_counts_two_simultaneous_approvals_once_each(aws, transactional_db, settings, required):
    settings.LIFECYCLE_APPROVALS_REQUIRED = {"deregister": required}
    # The audit log is never flushed, and request numbers start again after a flush.
    start = chain_head().sequence
    requester = create_user("rita", Role.REQUESTER)
    approvers = [create_user(name, Role.APPROVER) for name in ("arno", "bea")]
    image_id = register_image(aws, "old-build")
    sync()
    request = ask(requester, "deregister", [image_id])
    barrier, outcomes = threading.Barrier(2), []
    threads = [
        threading.Thread(target=_approve_in_thread, args=(user, request, barrier, outcomes))
        for user in approvers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    request = LifecycleRequest.objects.get(pk=request.pk)
    assert request.status == RequestStatus.APPROVED
    assert Approval.objects.filter(request=request).count() == required
    approvals = AuditEvent.objects.filter(
        correlation_id=f"request:{request.pk}", sequence__gt=start
    )
    assert approvals.filter(verb="request.approved").count() == required
    if required == 1:
        assert any("no longer takes decisions" in str(o) for o in outcomes)
