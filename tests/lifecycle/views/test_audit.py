"""Auditor pages: permissions per role, filters, keyset pages, event detail, timelines."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from lifecycle.models import AuditEvent
from lifecycle.services.audit import Target, record_event, target_of
from tests.factories import (
    create_account,
    create_audit_events,
    create_image,
    create_lifecycle_request,
    signed_in,
)

AUDIT = reverse("lifecycle:audit_log")
pytestmark = pytest.mark.django_db


def create_audited_image(image_id: str = "ami-0123456789abcdef0", name: str = "web-1.0"):
    """An image of account 123456789012 in eu-west-1, the one these timelines are about."""
    account = create_account("123456789012", "prod")
    return create_image(account=account, region="eu-west-1", image_id=image_id, name=name)


@pytest.mark.django_db
def test_it_sends_anonymous_visitors_to_sign_in():
    response = Client().get(AUDIT)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["viewer", "requester", "approver"])
def test_it_refuses_the_log_to_roles_without_the_audit_permission(persona, request):
    user = request.getfixturevalue(persona)
    assert signed_in(user).get(AUDIT).status_code == 403


@pytest.mark.parametrize("persona", ["auditor", "admin_user"])
def test_it_shows_the_log_and_public_key_to_auditors_and_admins(persona, request):
    user = request.getfixturevalue(persona)
    record_event("request.approved", actor=user, source="web", message="Approved request #3")
    response = signed_in(user).get(AUDIT)
    assert response.status_code == 200
    assert "Approved request #3" in response.content.decode()
    assert "BEGIN PUBLIC KEY" in response.content.decode()
    assert "verify_audit_log" in response.content.decode()


def test_it_filters_by_verb_actor_account_and_image(auditor):
    record_event("request.approved", actor=auditor, source="web", message="mine")
    record_event(
        "image.gone",
        actor=None,
        source="sync",
        target=Target("image", "ami-0aaaaaaaaaaaaaaaa", "210987654321", "us-east-1"),
        message="gone one",
    )
    client = signed_in(auditor)
    by_verb = client.get(AUDIT, {"verb": "image.*"}).content.decode()
    assert "gone one" in by_verb and "mine" not in by_verb
    by_actor = client.get(AUDIT, {"actor": "AUDREY"}).content.decode()
    assert "mine" in by_actor and "gone one" not in by_actor
    by_account = client.get(AUDIT, {"account": "210987654321", "region": "us-east-1"})
    assert "gone one" in by_account.content.decode()
    by_image = client.get(AUDIT, {"image": "ami-0aaaaaaaaaaaaaaaa"}).content.decode()
    assert "gone one" in by_image and "mine" not in by_image


@pytest.mark.parametrize(
    "query",
    [
        {"since": "yesterday"},
        {"account": "12"},
        {"image": "not-an-image"},
        {"since": "2026-02-01", "until": "2026-01-01"},
        {"before": "abc"},
        {"verb": "nonsense"},
    ],
)
def test_it_answers_bad_filters_with_a_400_and_a_message(auditor, query):
    response = signed_in(auditor).get(AUDIT, query)
    assert response.status_code == 400


def test_it_pages_by_keyset_newest_first(auditor):
    _, last = create_audit_events(120)
    client = signed_in(auditor)
    page = client.get(AUDIT, {"verb": "image.appeared"})
    events = page.context["events"]
    assert [e.sequence for e in events] == list(range(last, last - 50, -1))
    older = client.get(AUDIT, {"verb": "image.appeared", "before": page.context["older"]})
    assert older.context["events"][0].sequence == last - 50
    assert older.context["newer"] == last - 50
    newer = client.get(AUDIT, {"verb": "image.appeared", "after": older.context["newer"]})
    assert [e.sequence for e in newer.context["events"]] == [e.sequence for e in events]


def test_it_returns_only_the_rows_to_htmx(auditor):
    create_audit_events(3)
    response = signed_in(auditor).get(AUDIT, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "HX-Request" in response["Vary"]


def test_it_shows_an_event_with_its_before_after_diff(auditor):
    event = record_event(
        "image.state_changed",
        actor=None,
        source="sync",
        before={"state": "available", "public": True},
        after={"state": "disabled", "public": True, "reason": "manual"},
    )
    response = signed_in(auditor).get(reverse("lifecycle:audit_event", args=[event.sequence]))
    diff = {row.key: row.change for row in response.context["diff"]}
    assert diff == {"public": "same", "reason": "added", "state": "changed"}
    assert response.context["hash_ok"] and response.context["link_ok"]
    assert "disabled" in response.content.decode()
    # Values read as JSON (true, not Python's True); text as it is.
    assert "<code>true</code>" in response.content.decode()
    assert "<code>True</code>" not in response.content.decode()


def test_it_answers_404_for_an_unknown_event(auditor):
    url = reverse("lifecycle:audit_event", args=[10**12])
    assert signed_in(auditor).get(url).status_code == 404


def test_it_refuses_event_detail_to_a_viewer(viewer):
    event = record_event("request.created", actor=viewer, source="web")
    url = reverse("lifecycle:audit_event", args=[event.sequence])
    assert signed_in(viewer).get(url).status_code == 403


def test_it_shows_every_signed_in_user_the_image_timeline(viewer):
    image = create_audited_image()
    other = create_audited_image("ami-0fffffffffffffff0", "other")
    record_event(
        "image.appeared",
        actor=None,
        source="sync",
        target=image,
        after={"state": "available", "gone_at": None},
    )
    record_event(
        "image.state_changed",
        actor=None,
        source="sync",
        target=image,
        before={"state": "available"},
        after={"state": "disabled"},
    )
    record_event(
        "item.executed",
        actor=None,
        source="worker",
        target=image,
        before={"status": "executing", "observed": {"state": "available"}},
        after={"status": "succeeded", "error": "", "response": {"Return": True}},
    )
    record_event("image.appeared", actor=None, source="sync", target=other, message="not mine")
    url = reverse("lifecycle:image_timeline", args=[image.pk])
    full = signed_in(viewer).get(url)
    assert full.status_code == 200
    verbs = [e.verb for e in full.context["events"]]
    assert verbs == ["item.executed", "image.state_changed", "image.appeared"]
    assert "not mine" not in full.content.decode()
    partial = signed_in(viewer).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "Image state changed" in partial
    # An appearance lists what was seen; a change shows before and after; empty keys are left out.
    assert "<code>state</code>: available → disabled" in partial
    assert re.search(r"<code>state</code>: available\s*</td>", partial)
    assert "— →" not in partial and "gone_at" not in partial
    # An execution shows its outcome, not the observed state it was decided on, nor an empty error.
    assert "<code>status</code>: executing → succeeded" in partial
    assert "<code>response.Return</code>: true" in partial
    assert "observed.state" not in partial and "<code>error</code>" not in partial


def test_it_answers_404_for_the_timeline_of_an_unknown_image(viewer):
    url = reverse("lifecycle:image_timeline", args=[999999])
    assert signed_in(viewer).get(url).status_code == 404


def test_it_shows_a_request_timeline_with_correlated_events(viewer, requester):
    from lifecycle.models import LifecycleRequest

    wanted = create_lifecycle_request(requester)
    other = create_lifecycle_request(requester)
    record_event("request.created", actor=requester, source="web", target=wanted)
    record_event(
        "item.executed", actor=None, source="worker", correlation_id=f"request:{wanted.pk}"
    )
    record_event("request.created", actor=requester, source="web", target=other)
    url = reverse("lifecycle:request_timeline", args=[wanted.pk])
    events = signed_in(viewer).get(url).context["events"]
    assert [e.verb for e in events] == ["item.executed", "request.created"]
    missing = reverse("lifecycle:request_timeline", args=[LifecycleRequest.objects.count() + 999])
    assert signed_in(viewer).get(missing).status_code == 404


def test_it_refuses_the_request_timeline_to_a_user_without_a_role(requester):
    from tests.factories import create_user

    nobody = create_user("nobody")
    url = reverse("lifecycle:request_timeline", args=[create_lifecycle_request(requester).pk])
    assert signed_in(nobody).get(url).status_code == 403


def test_it_names_images_by_aws_id_account_and_region(db):
    image = create_audited_image()
    assert target_of(image) == Target(
        "image", "ami-0123456789abcdef0", "123456789012", "eu-west-1", "web-1.0"
    )
    assert AuditEvent.objects.count() >= 0


def test_it_filters_by_time_range_and_request(auditor):
    from datetime import UTC, datetime

    from lifecycle.services.audit import EventDraft, record_events

    record_events(
        [
            EventDraft(
                "request.created",
                None,
                "cli",
                Target("request", "9"),
                occurred_at=datetime(2025, 3, 1, 12, tzinfo=UTC),
                message="march",
            ),
            EventDraft(
                "item.executed",
                None,
                "worker",
                correlation_id="request:9",
                occurred_at=datetime(2025, 3, 2, 8, tzinfo=UTC),
                message="second day",
            ),
        ]
    )
    client = signed_in(auditor)
    one_day = client.get(AUDIT, {"since": "2025-03-01", "until": "2025-03-01"}).content.decode()
    assert "march" in one_day and "second day" not in one_day
    by_request = client.get(AUDIT, {"request": "9"}).content.decode()
    assert "march" in by_request and "second day" in by_request


def test_it_still_shows_the_log_when_the_signing_key_is_unreadable(auditor, settings):
    settings.AUDIT_SIGNING_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    settings.AUDIT_SIGNING_KEY_FILE.write_text("not a key")
    response = signed_in(auditor).get(AUDIT)
    assert response.status_code == 200
    assert "Signing key unavailable" in response.content.decode()


@pytest.mark.parametrize(
    "kind, name, shown",
    [
        ("request", "Request #3: Deregister", "Request #3: Deregister"),
        ("sync_run", "Sync #4", "Sync #4"),
        ("image", "web-2024.01", "image web-2024.01"),
        ("user", "admin", "user admin"),
        ("image", "Image 7 of the web build", "image Image 7 of the web build"),
    ],
)
def test_the_log_names_a_target_without_saying_its_kind_twice(kind, name, shown):
    assert AuditEvent(target_type=kind, target_repr=name).target_display == shown


def test_the_report_form_builds_the_pdf_of_a_preset_period(auditor):
    client = signed_in(auditor)
    assert "Audit report of a period" in client.get(reverse("lifecycle:audit_log")).content.decode()
    response = client.post(reverse("lifecycle:audit_report"), {"preset": "year_to_date"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    event = AuditEvent.objects.get(sequence=int(response["X-Audit-Export-Event"]))
    assert event.after["format"] == "pdf" and "since" in event.after["filter"]


def test_a_report_form_without_a_period_says_so_with_a_400(auditor):
    response = signed_in(auditor).post(reverse("lifecycle:audit_report"), {"start": "2026-01-01"})
    assert response.status_code == 400
    assert "Choose a period" in response.content.decode()
