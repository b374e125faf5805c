"""The Audit page's verification: resumed from the latest digest in the request, or in full on a
worker with its progress, and which ran."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from lifecycle.models import AuditVerification
from lifecycle.services.audit_digests import load_digests, write_digest
from lifecycle.services.audit_verification import interrupt_verification, run_full_verification
from tests.factories import create_audit_events, last_audit_sequence, signed_in
from tests.lifecycle.tampering import FORGE_MESSAGE, raw, tampered

VERIFY = reverse("lifecycle:audit_verify")
FULL = reverse("lifecycle:audit_verify_full")
pytestmark = pytest.mark.django_db


def detail(verification: AuditVerification) -> str:
    return reverse("lifecycle:audit_verification", args=[verification.pk])


def test_the_page_offers_both_verifications(auditor):
    page = signed_in(auditor).get(reverse("lifecycle:audit_log")).content.decode()
    assert 'name="method" value="resumed"' in page
    assert f'method="post" action="{FULL}"' in page
    assert "Last full verification</dt><dd>none yet" in page


def test_it_resumes_from_the_latest_digest_and_says_so(auditor):
    create_audit_events(5)
    write_digest()
    create_audit_events(3)
    digest = load_digests()[-1]
    response = signed_in(auditor).get(VERIFY, {"method": "resumed"}, HTTP_HX_REQUEST="true")
    text = response.content.decode()
    assert response.status_code == 200
    assert "Audit log intact" in text
    assert f"resumed from signed digest #{digest.last_sequence} ({digest.path.name}" in text
    assert "<html" not in text  # the partial for htmx


def test_full_verification_runs_on_a_worker_and_catches_what_the_resumed_one_cannot(
    auditor, django_capture_on_commit_callbacks
):
    first, _ = create_audit_events(5)
    write_digest()
    client = signed_in(auditor)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(FULL, HTTP_HX_REQUEST="true")
    verification = AuditVerification.objects.get()
    assert len(queued) == 1  # the worker's message, sent once the row is committed
    text = response.content.decode()
    assert "Full verification queued</strong>: waiting for a worker" in text
    assert f'hx-get="{detail(verification)}" hx-trigger="every 2s"' in text  # it polls

    def pages() -> tuple[str, str]:
        resumed = client.get(VERIFY, {"method": "resumed"}).content.decode()
        assert run_full_verification(verification.pk) == "finished"
        return resumed, client.get(detail(verification), HTTP_HX_REQUEST="true").content.decode()

    resumed, full = tampered(lambda: raw(FORGE_MESSAGE, [first + 1]), pages)
    assert "Audit log intact" in resumed
    assert "Audit log NOT intact" in full
    assert "Verification: Full (every event re-hashed from #1)." in full
    assert f"event #{first + 1} does not match its hash" in full
    assert "hx-trigger" not in full  # finished: no more polling


def test_a_full_verification_on_a_real_queue_reports_its_result_on_the_audit_page(
    auditor, eager_celery, django_capture_on_commit_callbacks
):
    create_audit_events(7)
    client = signed_in(auditor)  # signing in is an event too
    last = last_audit_sequence()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(FULL)
    verification = AuditVerification.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(verification)
    assert verification.state == AuditVerification.State.FINISHED
    assert verification.requested_by == auditor
    assert verification.events_checked == last and verification.result["problem"] is None
    page = client.get(detail(verification)).content.decode()
    assert f"Audit log intact</strong>: head #{last}, {last} events re-hashed" in page
    assert f"asked for by {auditor.username}" in page
    log = client.get(reverse("lifecycle:audit_log")).content.decode()
    assert f"#{verification.pk}</a>, asked for by {auditor.username}" in log
    assert f"intact, {last} events re-hashed" in log


def test_the_walk_reports_progress_and_stops_when_taken_over(auditor, monkeypatch):
    from lifecycle.services import audit_verification

    create_audit_events(9)
    monkeypatch.setattr(AuditVerification, "PROGRESS_EVERY", 2)
    verification = AuditVerification.objects.create(requested_by=auditor)
    reads = audit_verification.database_rows
    seen = []

    def rows(after=None):
        for n, row in enumerate(reads(after), start=1):
            if n == 5:  # someone else marked it interrupted meanwhile (its heartbeat was late)
                seen.append(AuditVerification.objects.get(pk=verification.pk).events_checked)
                interrupt_verification(verification.pk, "its worker stopped reporting")
            yield row

    monkeypatch.setattr(audit_verification, "database_rows", rows)
    assert run_full_verification(verification.pk) == "interrupted"
    verification.refresh_from_db()
    assert seen == [4]  # reported at events 2 and 4
    assert verification.state == AuditVerification.State.INTERRUPTED
    assert verification.events_checked == 4 and verification.result is None
    page = signed_in(auditor).get(detail(verification)).content.decode()
    assert "Full verification interrupted</strong> after 4 events re-hashed" in page
    assert "its worker stopped reporting" in page


def test_one_runs_at_a_time_and_a_stale_one_makes_way(auditor, approver):
    create_audit_events(3)
    late = timezone.now() - AuditVerification.RUNNING_STALE_AFTER - timedelta(seconds=1)
    gone = AuditVerification.objects.create(
        requested_by=approver, state="running", requested_at=late, heartbeat_at=late
    )
    client = signed_in(auditor)
    assert "Full verification interrupted" in client.get(detail(gone)).content.decode()
    client.post(FULL)
    gone.refresh_from_db()
    assert gone.state == AuditVerification.State.INTERRUPTED
    assert gone.reason == "its worker stopped reporting"
    current = AuditVerification.objects.get(state="queued")
    again = client.post(FULL, HTTP_HX_REQUEST="true")  # joins the one queued
    assert AuditVerification.objects.count() == 2
    assert f'hx-get="{detail(current)}"' in again.content.decode()
    assert run_full_verification(gone.pk) == "not queued"  # its late message does nothing
    assert run_full_verification(current.pk) == "finished"
    assert run_full_verification(current.pk) == "not queued"  # nor a redelivered one


def test_a_verification_stopped_at_its_time_limit_is_shown_interrupted(auditor, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from lifecycle import tasks
    from lifecycle.services import audit_verification

    def too_long(**_):
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(audit_verification, "verify_configured", too_long)
    verification = AuditVerification.objects.create(requested_by=auditor)
    assert tasks.verify_audit_log_in_full(verification.pk) == "interrupted"
    verification.refresh_from_db()
    assert verification.state == AuditVerification.State.INTERRUPTED
    assert "reached the time limit" in verification.reason


@pytest.mark.parametrize("method", ["quick", "full"])
def test_a_bad_method_is_a_400_with_a_message(auditor, method):
    # "full" is not run in the request: it is a POST to its own URL, for a worker.
    response = signed_in(auditor).get(VERIFY, {"method": method})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_it_is_refused_to_roles_without_the_audit_permission(viewer, auditor):
    client = signed_in(viewer)
    assert client.get(VERIFY).status_code == 403
    assert client.post(FULL).status_code == 403
    assert not AuditVerification.objects.exists()
    verification = AuditVerification.objects.create(requested_by=auditor)
    assert client.get(detail(verification)).status_code == 403
