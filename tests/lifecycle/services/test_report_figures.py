"""The report's figures, each checked against the audit events that make it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from lifecycle.models import AuditEvent
from lifecycle.services.audit import Target, record_event
from lifecycle.services.report_figures import ACCESS_VERBS, ReportScope, compute_figures, percentile
from tests.factories import (
    create_account,
    create_image,
    create_lifecycle_request,
    create_user,
    last_audit_sequence,
)

pytestmark = pytest.mark.django_db


def _scope(**fields) -> ReportScope:
    now = timezone.now()
    return ReportScope(now - timedelta(hours=1), now + timedelta(hours=1), **fields)


@pytest.fixture
def figures_of_this_test():
    """Figures of the events this test writes: the append-only log may keep events that
    earlier tests committed."""
    first = last_audit_sequence()
    return lambda scope: compute_figures(scope, AuditEvent.objects.filter(sequence__gt=first))


def _request_events(request, image, *, outcome="item.executed", override=False, approver=None):
    """The events the request service and the worker write for a one-image request."""
    correlation = f"request:{request.pk}"
    target = Target("request", str(request.pk), label=f"Request #{request.pk}")
    after = {"action": request.action, "override_in_use": override, "override_reason": "hot fix"}
    record_event("request.created", actor=request.requester, source="web", target=target,
                 after=after, correlation_id=correlation)  # fmt: skip
    record_event("request.approved", actor=approver or request.requester, source="web",
                 target=target, after={"status": "approved"},
                 correlation_id=correlation)  # fmt: skip
    image_target = Target("image", image.image_id, image.account.account_id, image.region)
    record_event(outcome, actor=None, source="worker", target=image_target,
                 after={"status": "done"}, correlation_id=correlation)  # fmt: skip
    record_event("request.completed", actor=None, source="worker", target=target,
                 after={"status": "done"}, correlation_id=correlation)  # fmt: skip


def _seconds(verb_from: str, verb_to: str, correlation: str) -> float:
    events = AuditEvent.objects.filter(correlation_id=correlation)
    start = events.get(verb=verb_from).occurred_at
    return (events.get(verb=verb_to).occurred_at - start).total_seconds()


def test_actions_images_storage_and_latency_come_from_the_events(settings, figures_of_this_test):
    settings.STORAGE_PRICE_PER_GB_MONTH = 0.05
    alice, bob = create_user("alice"), create_user("bob")
    old = create_image(storage_gib=40)
    dropped = create_lifecycle_request(alice, action="deregister")
    _request_events(dropped, old, approver=bob)
    disabled = create_lifecycle_request(alice, action="disable")
    _request_events(disabled, create_image(), outcome="item.failed", approver=bob)
    create_lifecycle_request(alice, action="deprecate")  # still open

    figures = figures_of_this_test(_scope())

    assert figures.actions[("deregister", "executed")] == 1
    assert figures.actions[("disable", "failed")] == 1
    assert figures.actions[("deregister", "approved")] == 1
    assert figures.images["deregistered"] == 1 and figures.images["disabled"] == 0
    assert figures.storage_freed_gib == 40
    assert figures.cost_freed == Decimal("2.00")
    assert figures.open_at_end == 3  # finished_at is never set on these bare rows
    expected = sorted(
        _seconds("request.created", "request.approved", f"request:{r.pk}")
        for r in (dropped, disabled)
    )
    assert sorted(figures.to_approval.seconds) == expected
    assert figures.to_execution.p95 == max(
        _seconds("request.approved", "request.completed", f"request:{r.pk}")
        for r in (dropped, disabled)
    )
    assert [e.verb for e in figures.failed] == ["item.failed"]


def test_exceptions_list_overrides_access_changes_lockouts_and_outside_changes(
    figures_of_this_test,
):
    first = last_audit_sequence()
    alice, bob = create_user("alice"), create_user("bob")
    account = create_account("444455556666")
    image, other = create_image(account=account), create_image(account=account)
    risky = create_lifecycle_request(alice, action="deregister", override_in_use=True)
    _request_events(risky, image, override=True, approver=bob)
    for verb in ("role.changed", "auth.locked_out", "request.expired"):
        record_event(verb, actor=None, source="system", target=Target("user", "1"))
    for target in (image, other, other):  # the first follows amidash's own execution
        record_event("image.state_changed", actor=None, source="sync",
                     target=Target("image", target.image_id, "444455556666", target.region),
                     after={"state": "disabled"})  # fmt: skip

    figures = figures_of_this_test(_scope())

    assert [o["approvers"] for o in figures.overrides] == [["bob"]]
    access = AuditEvent.objects.filter(verb__in=ACCESS_VERBS, sequence__gt=first)
    access = access.order_by("sequence")
    assert [e.sequence for e in figures.access_changes] == [e.sequence for e in access]
    assert "role.changed" in {e.verb for e in figures.access_changes}
    assert [e.verb for e in figures.lockouts] == ["auth.locked_out"]
    assert [e.verb for e in figures.expired] == ["request.expired"]
    assert [c.image_id for c in figures.outside] == [other.image_id, other.image_id]
    assert figures.outside_by_account == {("444455556666", "state_changed to disabled"): 2}


def test_a_scope_of_one_account_keeps_its_requests_and_drops_the_rest(figures_of_this_test):
    alice = create_user("alice")
    mine, theirs = create_account("111111111111"), create_account("222222222222")
    kept = create_lifecycle_request(alice, action="disable")
    kept.items.create(image=(image := create_image(account=mine)), ami_id=image.image_id,
                      account_id="111111111111", region=image.region)  # fmt: skip
    _request_events(kept, image)
    _request_events(create_lifecycle_request(alice, action="disable"), create_image(account=theirs))

    figures = figures_of_this_test(_scope(accounts=("111111111111",)))

    assert figures.actions[("disable", "created")] == 1
    assert figures.actions[("disable", "executed")] == 1
    assert figures.open_at_end == 1


def test_an_event_outside_the_period_is_not_counted():
    record_event("auth.locked_out", actor=None, source="system", target=Target("user", "1"))
    later = timezone.now() + timedelta(days=1)  # nothing has happened yet
    assert compute_figures(ReportScope(later, later + timedelta(days=1))).lockouts == []


def test_percentiles_are_values_that_were_measured():
    assert percentile([], 0.5) is None
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0


def test_each_outside_change_names_who_cloudtrail_says_made_it(figures_of_this_test):
    account = create_account("444455556666")
    images = [create_image(account=account) for _ in range(3)]
    changes = []
    for image in images:
        target = Target("image", image.image_id, "444455556666", image.region)
        event = record_event(
            "image.state_changed", actor=None, source="sync", target=target,
            after={"state": "disabled"},
        )  # fmt: skip
        changes.append(event)
    found, missing = changes[0], changes[1]
    record_event("cloudtrail.found", actor=None, source="worker",
                 target=Target("image", images[0].image_id, "444455556666", images[0].region),
                 after={"observes": found.sequence, "event_name": "DisableImage",
                        "event_time": "2026-10-01T10:00:00+00:00", "username": "jordan.ops",
                        "principal_arn": "arn:aws:iam::444455556666:user/jordan.ops",
                        "source_ip": "198.51.100.23"})  # fmt: skip
    record_event("cloudtrail.not_found", actor=None, source="worker",
                 target=Target("image", images[1].image_id, "444455556666", images[1].region),
                 after={"observes": missing.sequence,
                        "reason": "older than CloudTrail's 90 days of event history"})  # fmt: skip

    figures = figures_of_this_test(_scope())

    said = {change.sequence: change.cloudtrail for change in figures.outside}
    assert said[found.sequence] == (
        "arn:aws:iam::444455556666:user/jordan.ops, DisableImage at 2026-10-01 10:00:00 UTC "
        "from 198.51.100.23"
    )
    assert said[missing.sequence] == (
        "not found in CloudTrail (older than CloudTrail's 90 days of event history)"
    )
    assert said[changes[2].sequence] == "not yet looked up in CloudTrail"
    rows = [row for row in figures.rows() if row[0] == "outside change"]
    assert [row[2] for row in rows] == [said[c.sequence] for c in changes]


def test_each_change_amidash_made_names_its_identity_in_cloudtrail(figures_of_this_test):
    alice, bob = create_user("alice"), create_user("bob")
    image = create_image()
    request = create_lifecycle_request(alice, action="disable")
    _request_events(request, image, approver=bob)
    executed = AuditEvent.objects.filter(verb="item.executed").order_by("-sequence").first()
    record_event("cloudtrail.found", actor=None, source="worker",
                 target=Target("image", image.image_id, image.account.account_id, image.region),
                 after={"observes": executed.sequence, "event_name": "DisableImage",
                        "event_time": "2026-10-01T10:00:00+00:00",
                        "principal_arn": "arn:aws:sts::111122223333:assumed-role/amidash/x",
                        "source_identity": f"request-{request.pk}",
                        "source_ip": "192.0.2.10"})  # fmt: skip

    figures = figures_of_this_test(_scope())

    assert [(c.image_id, c.kind) for c in figures.amidash_changes] == [(image.image_id, "disable")]
    assert figures.amidash_changes[0].cloudtrail == (
        f"arn:aws:sts::111122223333:assumed-role/amidash/x (source identity request-{request.pk}), "
        "DisableImage at 2026-10-01 10:00:00 UTC from 192.0.2.10"
    )
    assert [row[0] for row in figures.rows()].count("amidash change") == 1
