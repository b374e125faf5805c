"""Requests and decisions through the services (invariants in docs/architecture.md): four eyes
(invariant 2), the in-use guard (invariant 5), validation of parameters against AWS's limits,
N approvals, expiry, notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from amidash.roles import Role
from lifecycle.choices import ItemStatus, RequestStatus
from lifecycle.models import AccountAccess, AccountScope, Approval, AuditSource, LifecycleRequest
from lifecycle.services.requests import (
    RequestError,
    approve_request,
    cancel_request,
    expire_requests,
    reject_request,
)
from tests.amidash.sandbox.images import launch, register_image
from tests.factories import approve, ask, create_user, image, request_events, sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(aws):
    ids = {"unused": register_image(aws, "old-build"), "busy": register_image(aws, "live")}
    ids["instance"] = launch(aws, ids["busy"])
    sync()
    return ids


def test_it_creates_a_pending_request_with_a_preview_and_an_audit_event(estate, requester):
    request = ask(requester, "deregister", [estate["unused"]], ticket="OPS-12")
    assert request.status == RequestStatus.PENDING
    assert request.approvals_required == 1
    assert request.expires_at - request.created_at == timedelta(days=7)
    item = request.items.get()
    assert item.observed["state"] == "available" and item.observed["usage"] == []
    assert item.preview["recycle_bin"].startswith("permanent")
    assert len(request.fingerprint) == 64
    event = request_events(request).get(verb="request.created")
    assert event.actor_name == requester.username and event.after["ticket"] == "OPS-12"


def test_it_notifies_approvers_by_email(
    estate, requester, approver, django_capture_on_commit_callbacks, eager_celery
):
    with django_capture_on_commit_callbacks(execute=True):
        ask(requester, "deregister", [estate["unused"]])
    assert [m.to for m in mail.outbox] == [[approver.email]]
    assert "Deregister of 1 image(s)" in mail.outbox[0].subject


def test_it_refuses_an_image_in_use_without_override(estate, requester):
    with pytest.raises(RequestError, match="in use"):
        ask(requester, "disable", [estate["busy"]])
    with pytest.raises(RequestError, match="justification"):
        ask(requester, "deregister", [estate["busy"]], override_in_use=True)
    request = ask(
        requester, "deregister", [estate["busy"]], override_in_use=True, override_reason="retiring"
    )
    assert request.items.get().preview["blocked"].startswith("in use by 1")


def test_it_requires_a_reason_and_the_requester_role(estate, requester, viewer, approver):
    with pytest.raises(RequestError, match="reason"):
        ask(requester, "deregister", [estate["unused"]], reason="  ")
    for user in (viewer, approver):
        with pytest.raises(PermissionDenied):
            ask(user, "deregister", [estate["unused"]])


def test_it_checks_deprecation_times_against_aws_limits(estate, requester):
    cases = [
        (datetime.now(UTC) - timedelta(minutes=5), "in the future"),
        (datetime.now(UTC) + timedelta(days=365 * 11), "10 years"),
        ("not a date", "valid date"),
        (None, "needs the date"),
    ]
    for when, message in cases:
        with pytest.raises(RequestError, match=message):
            ask(requester, "deprecate", [estate["unused"]], parameters={"deprecate_at": when})
    with pytest.raises(RequestError, match="Region"):
        ask(requester, "copy", [estate["unused"]], parameters={"regions": []})
    with pytest.raises(RequestError, match="Not a Region name: mars-1"):
        ask(requester, "copy", [estate["unused"]], parameters={"regions": ["mars-1"]})
    assert not LifecycleRequest.objects.exists()


def test_it_rounds_the_deprecation_time_to_the_minute(estate, requester):
    when = datetime(2031, 5, 6, 7, 8, 31, tzinfo=UTC)
    request = ask(requester, "deprecate", [estate["unused"]], parameters={"deprecate_at": when})
    assert request.parameters == {"deprecate_at": "2031-05-06T07:09:00Z"}


def test_it_refuses_restoring_an_image_that_exists(estate, requester):
    with pytest.raises(RequestError, match="nothing to restore"):
        ask(requester, "restore", [estate["unused"]])


def test_it_refuses_self_approval(estate, db):
    both = create_user("bob", Role.REQUESTER, Role.APPROVER)
    request = ask(both, "deregister", [estate["unused"]])
    with pytest.raises(PermissionDenied, match="own request"):
        approve(both, request)
    with pytest.raises(PermissionDenied, match="own request"):
        reject_request(both, request.pk, request.fingerprint, "no", AuditSource.WEB)
    superuser = create_user("root", superuser=True)
    own = ask(superuser, "deregister", [estate["unused"]])
    with pytest.raises(PermissionDenied, match="own request"):
        approve(superuser, own)
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING and not Approval.objects.exists()


def test_it_refuses_a_second_decision_by_the_same_person(estate, requester, approver, settings):
    settings.LIFECYCLE_APPROVALS_REQUIRED = {"deregister": 2}
    request = ask(requester, "deregister", [estate["unused"]])
    approve(approver, request)
    with pytest.raises(RequestError, match="already decided"):
        approve(approver, request)
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING and request.approvals().count() == 1


def test_it_needs_n_approvals_when_configured(
    estate,
    requester,
    approver,
    second_approver,
    settings,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    settings.LIFECYCLE_APPROVALS_REQUIRED = {"deregister": 2}
    request = ask(requester, "deregister", [estate["unused"]])
    assert request.approvals_required == 2
    assert approve(approver, request).status == RequestStatus.PENDING
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert approve(second_approver, request).status == RequestStatus.APPROVED
    assert callbacks  # execution was queued after commit, and ran
    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED
    events = request_events(request).filter(verb="request.approved").order_by("sequence")
    assert [e.after["approvals"] for e in events] == [1, 2]


def test_it_refuses_a_decision_on_another_fingerprint(estate, requester, approver):
    request = ask(requester, "deregister", [estate["unused"]])
    with pytest.raises(RequestError, match="fingerprint"):
        approve_request(approver, request.pk, "0" * 64, "ok", AuditSource.WEB)


def test_it_rejects_with_a_comment_and_tells_the_requester(
    estate, requester, approver, django_capture_on_commit_callbacks, eager_celery
):
    request = ask(requester, "deregister", [estate["unused"]])
    with pytest.raises(RequestError, match="why"):
        reject_request(approver, request.pk, request.fingerprint, "", AuditSource.WEB)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reject_request(approver, request.pk, request.fingerprint, "still needed", AuditSource.WEB)
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED
    assert set(request.items.values_list("status", flat=True)) == {ItemStatus.CANCELLED}
    assert mail.outbox[0].to == [requester.email] and "still needed" in mail.outbox[0].body
    assert request_events(request).filter(verb="request.rejected").exists()
    with pytest.raises(RequestError, match="rejected"):
        approve(approver, request)


def test_it_lets_only_the_requester_cancel(estate, requester, approver):
    request = ask(requester, "deregister", [estate["unused"]])
    with pytest.raises(PermissionDenied):
        cancel_request(approver, request.pk, "", AuditSource.WEB)
    cancel_request(requester, request.pk, "not needed", AuditSource.WEB)
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED
    assert request_events(request).filter(verb="request.cancelled").exists()


def test_it_expires_requests_and_refuses_late_approvals(estate, requester, approver):
    request = ask(requester, "deregister", [estate["unused"]])
    late = datetime.now(UTC) + timedelta(days=8)
    assert expire_requests(late) == 1
    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED
    with pytest.raises(RequestError, match="expired"):
        approve(approver, request)
    assert request_events(request).filter(verb="request.expired").count() == 1


def test_it_expires_on_a_late_approval_attempt(estate, requester, approver):
    request = ask(requester, "deregister", [estate["unused"]])
    type(request).objects.filter(pk=request.pk).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    with pytest.raises(RequestError, match="expired"):
        approve(approver, request)
    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED


def test_it_keeps_scoped_approvers_to_their_accounts(estate, requester):
    from inventory.models import Account

    approver = create_user("scoped", Role.APPROVER, all_accounts=False)
    other = Account.objects.create(account_id="999999999999", name="other")
    AccountScope.objects.create(user=approver, account=other)
    request = ask(requester, "deregister", [estate["unused"]])
    with pytest.raises(PermissionDenied, match="account"):
        approve(approver, request)
    AccountScope.objects.create(user=approver, account=image(estate["unused"]).account)
    assert approve(approver, request).status == RequestStatus.APPROVED


def test_a_user_without_scope_or_the_all_accounts_flag_reaches_no_account(estate):
    requester = create_user("scoped", Role.REQUESTER, all_accounts=False)
    with pytest.raises(PermissionDenied, match="account"):
        ask(requester, "deregister", [estate["unused"]])
    scope = AccountScope.objects.create(user=requester, account=image(estate["unused"]).account)
    assert ask(requester, "deregister", [estate["unused"]]).status == RequestStatus.PENDING
    scope.delete()  # the last scope row: no account, not every account
    with pytest.raises(PermissionDenied, match="account"):
        ask(requester, "deregister", [estate["unused"]])
    AccountAccess.objects.filter(user=requester).update(all_accounts=True)
    assert ask(requester, "deregister", [estate["unused"]]).status == RequestStatus.PENDING
