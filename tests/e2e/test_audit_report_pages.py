"""The audit report's first two pages as PNGs, for the README (published by
``make screenshots``)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from lifecycle.services.audit import Target, record_event
from tests.e2e.browser import ARTIFACTS, publish_screenshot
from tests.factories import create_account, create_image, create_lifecycle_request, create_user


def _history() -> None:
    """A small period: an executed override, a failure, a lockout and changes made outside."""
    alice, bob = create_user("alice"), create_user("bob")
    account = create_account("444455556666")
    for action, outcome, override in (("deregister", "item.executed", True),
                                      ("disable", "item.failed", False)):  # fmt: skip
        request = create_lifecycle_request(alice, action=action, override_in_use=override)
        image = create_image(account=account, storage_gib=120)
        target = Target("request", str(request.pk), label=f"Request #{request.pk}")
        correlation = f"request:{request.pk}"
        after = {"action": action, "override_in_use": override, "override_reason": "CVE fix"}
        record_event("request.created", actor=alice, source="web", target=target, after=after,
                     correlation_id=correlation)  # fmt: skip
        record_event("request.approved", actor=bob, source="web", target=target,
                     after={"status": "approved"}, correlation_id=correlation)  # fmt: skip
        done = Target("image", image.image_id, "444455556666", image.region)
        record_event(outcome, actor=None, source="worker", target=done, correlation_id=correlation)
    record_event(
        "auth.locked_out", actor=None, source="web", target=Target("user", "9", label="eve")
    )
    for _ in range(3):
        image = create_image(account=account)
        seen = Target("image", image.image_id, "444455556666", image.region)
        record_event("image.state_changed", actor=None, source="sync", target=seen,
                     after={"state": "disabled"})  # fmt: skip


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="needs pdftoppm (poppler-utils)")
def test_the_report_pages_are_pictured(tmp_path):
    _history()
    today = timezone.now().date()
    pdf = tmp_path / "report.pdf"
    call_command("audit_report", "--from", f"{today - timedelta(days=7)}", "--to", f"{today}",
                 "--output", str(pdf))  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-f", "1", "-l", "2", "-r", "60", "-png", str(pdf), str(prefix)],
                   check=True)  # fmt: skip
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2
    for number, page in enumerate(pages, start=1):
        named = shutil.move(page, ARTIFACTS / f"audit-report-page-{number}.png")
        publish_screenshot(named)
