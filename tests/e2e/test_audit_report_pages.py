"""The audit report's first three pages (summary, charts, exceptions) as PNGs, for the README
(published by ``make screenshots``)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from lifecycle.services.audit import EventDraft, Target, record_event, record_events
from tests.e2e.browser import ARTIFACTS, publish_screenshot
from tests.factories import create_account, create_image, create_lifecycle_request, create_user


def _history() -> None:
    """Three weeks: executed requests (one with an override), a failure, a lockout, changes made
    outside amidash, and an estate that grows and stops using some images."""
    alice, bob = create_user("alice"), create_user("bob")
    account, other = create_account("444455556666"), create_account("777788889999")
    now = timezone.now()
    for days_ago, action, outcome, override, count in (
        (17, "deprecate", "item.executed", False, 3),
        (10, "deregister", "item.executed", True, 2),
        (9, "disable", "item.failed", False, 1),
        (3, "disable", "item.executed", False, 2),
    ):
        when = now - timedelta(days=days_ago)
        request = create_lifecycle_request(alice, action=action, override_in_use=override)
        target = Target("request", str(request.pk), label=f"Request #{request.pk}")
        correlation = f"request:{request.pk}"
        after = {"action": action, "override_in_use": override, "override_reason": "CVE fix"}
        drafts = [
            EventDraft("request.created", alice, "web", target, after=after,
                       correlation_id=correlation, occurred_at=when),
            EventDraft("request.approved", bob, "web", target, after={"status": "approved"},
                       correlation_id=correlation, occurred_at=when + timedelta(hours=days_ago)),
        ]  # fmt: skip
        for _ in range(count):
            image = create_image(account=account, storage_gib=120,
                                 first_seen_at=now - timedelta(days=20))  # fmt: skip
            done = Target("image", image.image_id, "444455556666", image.region)
            drafts.append(EventDraft(outcome, None, "worker", done, correlation_id=correlation,
                                     occurred_at=when + timedelta(days=1)))  # fmt: skip
        record_events(drafts)
    for days_ago in (20, 12, 5):  # the estate grows: images in use, never used, used no more
        seen = now - timedelta(days=days_ago)
        for _ in range(3):
            create_image(account=other, first_seen_at=seen, in_use=True, usage_count=1,
                         last_seen_in_use_at=now)  # fmt: skip
        create_image(account=other, first_seen_at=seen)
        create_image(account=other, first_seen_at=seen, last_seen_in_use_at=now - timedelta(days=4))
    record_event(
        "auth.locked_out", actor=None, source="web", target=Target("user", "9", label="eve")
    )
    for owner, count in ((account, 3), (other, 1)):
        for _ in range(count):
            image = create_image(account=owner, first_seen_at=now - timedelta(days=20))
            seen = Target("image", image.image_id, owner.account_id, image.region)
            record_event("image.state_changed", actor=None, source="sync", target=seen,
                         after={"state": "disabled"})  # fmt: skip


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="needs pdftoppm (poppler-utils)")
def test_the_report_pages_are_pictured(tmp_path):
    _history()
    today = timezone.now().date()
    pdf = tmp_path / "report.pdf"
    call_command("audit_report", "--from", f"{today - timedelta(days=20)}", "--to", f"{today}",
                 "--output", str(pdf))  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-f", "1", "-l", "3", "-r", "80", "-png", str(pdf), str(prefix)],
                   check=True)  # fmt: skip
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 3  # the summary, the charts, the exceptions
    for number, page in enumerate(pages, start=1):
        named = shutil.move(page, ARTIFACTS / f"audit-report-page-{number}.png")
        publish_screenshot(named)
