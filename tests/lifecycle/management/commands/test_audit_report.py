"""``audit_report`` writes the report of a period in each format; bad arguments exit 2."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from lifecycle.models import AuditEvent
from lifecycle.services.audit import Target, record_event
from lifecycle.services.audit_digests import write_digest
from tests.factories import last_audit_sequence

pytestmark = pytest.mark.django_db


def _period() -> list[str]:
    today = timezone.now().date()
    return ["--from", f"{today - timedelta(days=1)}", "--to", f"{today}"]


def _lockout() -> None:
    record_event(
        "auth.locked_out", actor=None, source="web", target=Target("user", "7", label="eve")
    )


def _lockouts_today() -> int:
    """The lockout events of the period (the append-only log may keep earlier tests' events)."""
    since = timezone.now().date() - timedelta(days=1)
    return AuditEvent.objects.filter(verb="auth.locked_out", occurred_at__date__gte=since).count()


def test_it_writes_the_figures_as_csv(tmp_path):
    _lockout()
    first = last_audit_sequence()
    output = tmp_path / "report.csv"
    call_command("audit_report", *_period(), "--format", "csv", "--output", str(output))
    rows = list(csv.reader(output.read_text().splitlines()))
    assert rows[0] == ["section", "figure", "value"]
    assert ["exceptions", "sign-in lockouts", str(_lockouts_today())] in rows
    assert {row[0] for row in rows} >= {"chart: estate", "chart: approval_latency"}
    assert AuditEvent.objects.filter(sequence__gt=first, verb="export.created").count() == 1


def test_it_writes_the_figures_as_json_lines(tmp_path):
    _lockout()
    output = tmp_path / "report.jsonl"
    call_command("audit_report", *_period(), "--format", "jsonl", "--output", str(output))
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    figures = {(line["section"], line["figure"]): line["value"] for line in lines}
    assert figures[("exceptions", "sign-in lockouts")] == _lockouts_today()


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext (poppler-utils)")
def test_the_pdf_starts_with_the_summary(tmp_path):
    _lockout()
    output = tmp_path / "report.pdf"
    call_command("audit_report", *_period(), "--output", str(output))
    first = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-layout", str(output), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert first.lstrip().startswith("Audit report")
    assert "Summary" in first and "Actions by type and outcome" in first
    assert "Requests open at period end" in first
    whole = subprocess.run(
        ["pdftotext", str(output), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Sign-in lockouts ({_lockouts_today()})" in whole
    assert "Signing key fingerprint:" in whole
    assert "Verification: full" in whole  # no digest yet: the attestation says it re-hashed all
    assert "content_sha256:" in whole  # the manifest as key: value lines
    assert "auth.locked_out" in whole  # the appendix lists the event


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext (poppler-utils)")
def test_the_attestation_says_which_verification_ran(tmp_path):
    _lockout()
    digest = write_digest()
    assert digest is not None
    texts = {}
    for name, extra in (("resumed", []), ("full", ["--full-verification"])):
        output = tmp_path / f"{name}.pdf"
        call_command("audit_report", *_period(), "--output", str(output), *extra)
        text = subprocess.run(
            ["pdftotext", str(output), "-"], capture_output=True, text=True, check=True
        ).stdout
        texts[name] = " ".join(text.split())  # lines wrap anywhere
    assert f"Verification: resumed from signed digest {digest.name}" in texts["resumed"]
    assert "Verification: full (every event re-hashed from #1)." in texts["full"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2026-02-01", "--to", "2026-01-01"], "must not be after"),
        (["--from", "yesterday", "--to", "2026-01-01"], "Enter a date as YYYY-MM-DD"),
        (["--from", "2026-01-01"], "Choose a period"),
        (["--from", "2026-01-01", "--to", "2026-01-02", "--account", "12"], "12 digits"),
        (["--preset", "someday"], "preset"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path, arguments, message):
    first = last_audit_sequence()
    with pytest.raises(CommandError, match=message) as raised:
        call_command("audit_report", *arguments, "--output", str(tmp_path / "r.pdf"))
    assert raised.value.returncode == 2
    assert not (tmp_path / "r.pdf").exists()
    assert last_audit_sequence() == first  # nothing recorded
