"""Last month's report on the 1st: kept with a signed manifest that verifies, emailed once with
the PDF, recorded once; a second run sends nothing."""

from __future__ import annotations

import json
import shutil
import smtplib
import subprocess
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.management import call_command

from lifecycle.models import AuditEvent
from lifecycle.services.audit import EventDraft, Target, record_events
from lifecycle.services.audit_signing import default_public_key, public_key_pem
from lifecycle.services.report_delivery import (
    deliver_monthly_report,
    last_month,
    report_paths,
    verify_report_file,
)
from lifecycle.tasks import deliver_monthly_report as deliver_task
from tests.factories import last_audit_sequence

pytestmark = pytest.mark.django_db
RECIPIENTS = ["audit@example.com", "ciso@example.com"]
FIRST_OF_NOVEMBER = "2026-11-01T06:00:00+00:00"


@pytest.fixture(autouse=True)
def reports(settings, tmp_path):
    settings.REPORT_RECIPIENTS = list(RECIPIENTS)
    settings.REPORT_DIR = tmp_path / "reports"
    return settings.REPORT_DIR


def _new_events(first: int, verb: str):
    return AuditEvent.objects.filter(sequence__gt=first, verb=verb).order_by("sequence")


def _lockout_in_october() -> None:
    record_events([EventDraft("auth.locked_out", None, "web", Target("user", "7", label="eve"),
                              occurred_at=datetime(2026, 10, 14, 8, tzinfo=UTC))])  # fmt: skip


def test_the_period_is_the_calendar_month_before():
    assert last_month(datetime(2026, 11, 1, 6, tzinfo=UTC))[0] == "2026-10"
    period, scope = last_month(datetime(2027, 1, 1, 0, 5, tzinfo=UTC))
    assert period == "2026-12"
    assert (scope.start, scope.end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_the_task_keeps_sends_and_records_last_months_report_once(reports):
    _lockout_in_october()
    first = last_audit_sequence()

    path = deliver_task.apply(args=[FIRST_OF_NOVEMBER]).get()

    pdf, manifest = report_paths("2026-10")
    assert path == str(pdf) and pdf.parent == reports
    assert verify_report_file(pdf, manifest, default_public_key()) == []
    document = json.loads(manifest.read_text())
    assert document["since"] == "2026-10-01T00:00:00.000000Z"
    assert document["until"] == "2026-11-01T00:00:00.000000Z"
    (sent,) = mail.outbox
    assert sent.to == RECIPIENTS and "2026-10" in sent.subject
    attached = {name: (content, kind) for name, content, kind in sent.attachments}
    assert attached[pdf.name] == (pdf.read_bytes(), "application/pdf")
    assert json.loads(attached[manifest.name][0]) == document
    (export,) = _new_events(first, "export.created")
    assert export.after["filter"] == {"since": "2026-10-01T00:00", "until": "2026-11-01T00:00"}
    (event,) = _new_events(first, "report.delivered")
    assert (event.target_type, event.target_id, event.source) == ("report", "2026-10", "beat")
    assert event.after["recipients"] == RECIPIENTS
    assert event.after["sha256"] == document["sha256"]
    assert event.after["export_id"] == export.target_id == document["export_id"]

    again = last_audit_sequence()
    assert deliver_task.apply(args=[FIRST_OF_NOVEMBER]).get() is None
    assert len(mail.outbox) == 1
    assert last_audit_sequence() == again  # no second export, no second delivery


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext (poppler-utils)")
def test_the_kept_pdf_is_the_report_of_the_period():
    _lockout_in_october()
    delivery = deliver_monthly_report(datetime(2026, 11, 1, 6, tzinfo=UTC))
    text = subprocess.run(
        ["pdftotext", str(delivery.pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "2026-10-01 00:00 to 2026-11-01 00:00 UTC" in text
    assert "Charts" in text and "Sign-in lockouts (1)" in text


def test_without_recipients_nothing_is_made(settings, reports):
    settings.REPORT_RECIPIENTS = []
    first = last_audit_sequence()
    assert deliver_task.apply(args=[FIRST_OF_NOVEMBER]).get() is None
    assert mail.outbox == [] and not reports.exists()
    assert last_audit_sequence() == first


def test_a_failed_mail_records_nothing_and_the_retry_sends_the_kept_file(monkeypatch):
    first = last_audit_sequence()
    now = datetime(2026, 11, 1, 6, tzinfo=UTC)

    def refuse(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("gone")

    with monkeypatch.context() as patched:
        patched.setattr(EmailMessage, "send", refuse)
        with pytest.raises(smtplib.SMTPException):
            deliver_monthly_report(now)
    pdf, _ = report_paths("2026-10")
    kept = pdf.read_bytes()
    assert not _new_events(first, "report.delivered").exists()

    delivery = deliver_monthly_report(now)
    assert delivery is not None and pdf.read_bytes() == kept
    assert _new_events(first, "export.created").count() == 1  # the retry made no second export
    assert _new_events(first, "report.delivered").count() == 1
    assert len(mail.outbox) == 1


def test_a_changed_report_or_manifest_no_longer_verifies():
    delivery = deliver_monthly_report(datetime(2026, 11, 1, 6, tzinfo=UTC))
    key = default_public_key()
    original = delivery.manifest.read_text()
    document = json.loads(original)
    document["period"] = "2026-09"
    delivery.manifest.write_text(json.dumps(document))
    assert "cannot be trusted" in verify_report_file(delivery.pdf, delivery.manifest, key)[0]
    delivery.manifest.write_text(original)
    delivery.pdf.write_bytes(delivery.pdf.read_bytes() + b"%")
    assert verify_report_file(delivery.pdf, delivery.manifest, key) == [
        "the report's bytes do not match the manifest (it was changed)"
    ]


def test_beat_runs_it_on_the_first_of_each_month(settings):
    from django_celery_beat.schedulers import ModelEntry

    entry = settings.CELERY_BEAT_SCHEDULE["audit-monthly-report"]
    assert entry["task"] == deliver_task.name
    schedule = entry["schedule"]
    assert schedule.day_of_month == {1} and schedule.hour == {settings.REPORT_HOUR}
    assert schedule.minute == {0}
    stored = ModelEntry.from_entry("audit-monthly-report", **entry).model  # as beat stores it
    crontab = type(stored.crontab).objects.get(pk=stored.crontab.pk)
    fields = (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year)
    assert fields == ("0", str(settings.REPORT_HOUR), "1", "*")
    assert str(crontab.timezone) == "UTC"


def test_verify_report_checks_a_kept_copy_offline(tmp_path, capsys):
    delivery = deliver_monthly_report(datetime(2026, 11, 1, 6, tzinfo=UTC))
    key = tmp_path / "key.pem"
    key.write_text(public_key_pem(default_public_key()))
    call_command("verify_report", str(delivery.pdf), "--public-key", str(key))
    assert "Report intact" in capsys.readouterr().out
    delivery.pdf.write_bytes(delivery.pdf.read_bytes() + b"%")
    with pytest.raises(SystemExit) as failed:
        call_command("verify_report", str(delivery.pdf), "--public-key", str(key))
    assert failed.value.code == 1
    assert "Report NOT intact" in capsys.readouterr().err
