"""Last month's audit report, delivered on the 1st: kept as a file with a signed manifest,
emailed to ``REPORT_RECIPIENTS``, and recorded as an audit event (``report.delivered``).

Beat runs ``lifecycle.tasks.deliver_monthly_report`` on the 1st of each month. A month is
delivered once: the ``report.delivered`` event of its period is the record that it went out,
and deliveries take turns (a PostgreSQL advisory lock), so a second run on the same day, or a
second beat, sends nothing. A run whose mail failed records nothing and is retried; it sends the
file it kept, so a retry makes no second export.

The manifest (``<report>.manifest.json``) is signed with the audit key like an export's: it
names the period, the PDF's name, size and SHA-256, and the export event the report was made
under. ``verify_report_file`` checks both offline against the public key.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection
from django.utils import timezone

from lifecycle.filtersets import preset_period
from lifecycle.models import AuditEvent, AuditSource, AuditVerb
from lifecycle.models.audit import canonical_json, isoformat_utc
from lifecycle.reports import build_report
from lifecycle.services.audit import Target, record_event
from lifecycle.services.audit_signing import default_public_key, sign_document, verify_document
from lifecycle.services.report_figures import ReportScope

REPORT_MANIFEST_TYPE = "amidash-audit-report"
#: Key of the advisory lock that makes deliveries take turns ("rept" in ASCII).
DELIVERY_LOCK_KEY = 0x72657074


@dataclass(frozen=True)
class Delivery:
    """A monthly report that went out."""

    period: str
    pdf: Path
    manifest: Path
    sha256: str
    recipients: list[str]
    event: AuditEvent


def last_month(now: datetime) -> tuple[str, ReportScope]:
    """The period name (``YYYY-MM``) and scope of the calendar month before ``now`` (UTC)."""
    first, last = preset_period("last_month", now.astimezone(UTC).date())
    scope = ReportScope(
        start=datetime.combine(first, time.min, tzinfo=UTC),
        end=datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC),
    )
    return f"{first:%Y-%m}", scope


def report_paths(period: str) -> tuple[Path, Path]:
    """Where the report of ``period`` and its manifest are kept."""
    pdf = Path(settings.REPORT_DIR) / f"amidash-audit-report-{period}.pdf"
    return pdf, pdf.with_name(f"{pdf.name}.manifest.json")


def delivered(period: str) -> AuditEvent | None:
    """The ``report.delivered`` event of ``period``, if it went out already."""
    events = AuditEvent.objects.filter(
        verb=AuditVerb.REPORT_DELIVERED, target_type="report", target_id=period
    )
    return events.order_by("sequence").first()


@contextmanager
def _taking_turns() -> Iterator[None]:
    """A session-level advisory lock, not a transaction: building the report and sending the
    mail must not hold the audit log's own lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [DELIVERY_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [DELIVERY_LOCK_KEY])


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build_report_manifest(
    period: str, scope: ReportScope, pdf: Path, data: bytes, export: AuditEvent
) -> dict[str, Any]:
    """The signed manifest of a kept report."""
    return sign_document(
        {
            "type": REPORT_MANIFEST_TYPE,
            "version": 1,
            "period": period,
            "since": isoformat_utc(scope.start),
            "until": isoformat_utc(scope.end),
            "file": pdf.name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "export_id": export.target_id,
            "export_event": {"sequence": export.sequence, "hash": export.hash},
            "created_at": isoformat_utc(export.occurred_at),
        }
    )


def verify_report_file(pdf: Path | str, manifest: Path | str, key: Ed25519PublicKey) -> list[str]:
    """What is wrong with a kept report and its manifest (nothing: an empty list)."""
    pdf, manifest = Path(pdf), Path(manifest)
    try:
        document = json.loads(manifest.read_bytes())
    except (OSError, ValueError) as error:
        return [f"the manifest cannot be read: {error}"]
    if not isinstance(document, dict) or document.get("type") != REPORT_MANIFEST_TYPE:
        return ["the manifest is not an amidash audit report manifest"]
    problems = []
    signature_error = verify_document(document, key)
    if signature_error:
        problems.append(f"the manifest cannot be trusted: {signature_error}")
    data = pdf.read_bytes()
    if document.get("file") != pdf.name:
        problems.append(f"the manifest names {document.get('file')!r}, not {pdf.name!r}")
    if document.get("size") != len(data) or document.get("sha256") != (
        hashlib.sha256(data).hexdigest()
    ):
        problems.append("the report's bytes do not match the manifest (it was changed)")
    return problems


def _kept(period: str) -> tuple[bytes, dict[str, Any]] | None:
    """The report and manifest of ``period`` kept by an earlier run whose mail failed."""
    pdf, manifest = report_paths(period)
    if not (pdf.is_file() and manifest.is_file()):
        return None
    if verify_report_file(pdf, manifest, default_public_key()):
        return None  # not one we can vouch for: make it again
    return pdf.read_bytes(), json.loads(manifest.read_bytes())


def _make(period: str, scope: ReportScope) -> tuple[bytes, dict[str, Any]]:
    plan, data = build_report(actor=None, source=AuditSource.BEAT, scope=scope, fmt="pdf")
    pdf, manifest_path = report_paths(period)
    manifest = build_report_manifest(period, scope, pdf, data, plan.event)
    _write_atomically(pdf, data)
    _write_atomically(manifest_path, (canonical_json(manifest) + "\n").encode())
    return data, manifest


def _send(period: str, data: bytes, manifest: dict[str, Any], recipients: list[str]) -> None:
    pdf, manifest_path = report_paths(period)
    mail = EmailMessage(
        subject=f"[amidash] Audit report {period}",
        body=(
            f"The amidash audit report of {period} ({manifest['since']} to {manifest['until']}, "
            "end excluded) is attached with its signed manifest.\n\n"
            f"SHA-256 of the PDF: {manifest['sha256']}\n"
            f"Signing key fingerprint: {manifest['public_key_fingerprint']}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )
    mail.attach(pdf.name, data, "application/pdf")
    mail.attach(manifest_path.name, canonical_json(manifest) + "\n", "application/json")
    mail.send()


def deliver_monthly_report(now: datetime | None = None) -> Delivery | None:
    """Keep, email and record last month's report; None when there is nobody to send it to or
    it went out already."""
    recipients = list(settings.REPORT_RECIPIENTS)
    if not recipients:
        return None
    period, scope = last_month(now or timezone.now())
    with _taking_turns():
        if delivered(period):
            return None
        data, manifest = _kept(period) or _make(period, scope)
        _send(period, data, manifest, recipients)
        pdf, manifest_path = report_paths(period)
        event = record_event(
            AuditVerb.REPORT_DELIVERED,
            actor=None,
            source=AuditSource.BEAT,
            target=Target("report", period, label=f"Audit report {period}"),
            after={
                "period": period,
                "since": manifest["since"],
                "until": manifest["until"],
                "recipients": recipients,
                "file": pdf.name,
                "sha256": manifest["sha256"],
                "export_id": manifest["export_id"],
            },
            message=f"Sent the audit report of {period} to {len(recipients)} recipient(s)",
            correlation_id=f"export:{manifest['export_id']}",
        )
    return Delivery(period, pdf, manifest_path, manifest["sha256"], recipients, event)
