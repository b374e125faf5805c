"""Consumers outside the synced accounts, from AMI usage reports (docs/architecture.md).

A sync sees only the inventoried accounts; for a public or shared image, other accounts may run
instances or keep launch templates of it. EC2 tells the owner so through usage reports:
``CreateImageUsageReport``, then ``DescribeImageUsageReports`` until the report is available,
then ``DescribeImageUsageReportEntries`` (per account and resource type, a count). The latest
available report replaces the image's consumers; ``Image.in_use`` is recomputed by the same rule
as the sync's (``in_use_sql``). A report older than AMIDASH_CONSUMER_REPORT_MAX_AGE_HOURS makes
the image's usage unknown (``ImageQ.usage_unknown``).

Reports are asked for on demand (the image page, the request preview) and by a paced pass over
the exposed images whose report is oldest (``refresh_due_reports``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest
from django.utils import timezone

from inventory import signals
from inventory.choices import ConsumerReportStatus
from inventory.models import ConsumerReport, Image, ImageConsumer, ImageQ, in_use_sql
from inventory.services.aws import AWS_ERRORS, AwsSession, describe_error, paced

logger = logging.getLogger(__name__)

RESOURCE_TYPES = [{"ResourceType": "ec2:Instance"}, {"ResourceType": "ec2:LaunchTemplate"}]
#: An entry's resource type -> the ImageConsumer field that counts it.
COUNTED = {"ec2:Instance": "instances", "ec2:LaunchTemplate": "launch_templates"}
#: How often and how long a report is polled before it is left pending for the next look.
POLLS = 5
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class ReportedConsumer:
    """One account's use of the image, as a report's entries give it."""

    account_id: str
    instances: int = 0
    launch_templates: int = 0

    @property
    def total(self) -> int:
        return self.instances + self.launch_templates


def consumers_from_entries(entries: list[dict[str, Any]]) -> list[ReportedConsumer]:
    """Entries (one per account and resource type) folded into one consumer per account."""
    counts: dict[str, dict[str, int]] = {}
    for entry in entries:
        field = COUNTED.get(entry.get("ResourceType", ""))
        account_id = str(entry.get("AccountId", ""))
        if field is None or not account_id:
            continue
        per_account = counts.setdefault(account_id, {})
        per_account[field] = per_account.get(field, 0) + int(entry.get("UsageCount") or 0)
    return [ReportedConsumer(account_id, **fields) for account_id, fields in sorted(counts.items())]


def external_usage_keys(image: Image) -> set[str]:
    """Other accounts' use of the image as usage keys (``external:<account id>``), per its
    latest usage report; the lifecycle guard counts them as usages."""
    accounts = image.consumers.values_list("account_id", flat=True)
    return {f"external:{account_id}" for account_id in accounts}


def request_report(image: Image, actor_name: str = "", session: AwsSession | None = None) -> str:
    """Ask EC2 for a usage report of ``image``; returns the pending ``ConsumerReport``'s pk."""
    report = ConsumerReport.objects.create(
        image=image, requested_at=timezone.now(), requested_by=actor_name[:150]
    )
    try:
        session = session or AwsSession(image.account, actor_name or None)
        answer = session.client("ec2", image.region).create_image_usage_report(
            ImageId=image.image_id, ResourceTypes=RESOURCE_TYPES
        )
    except AWS_ERRORS as error:
        _fail(report, describe_error(error))
        return report.pk
    report.report_id = answer.get("ReportId", "")
    report.save(update_fields=["report_id"])
    return report.pk


def _fail(report: ConsumerReport, error: str) -> None:
    report.status, report.error, report.finished_at = (
        ConsumerReportStatus.FAILED,
        error[:2000],
        timezone.now(),
    )
    report.save(update_fields=["status", "error", "finished_at"])


def read_report(ec2: Any, report_id: str) -> tuple[str, datetime | None, str]:
    """(state, creation time, state reason) of one report as EC2 describes it now."""
    reports = ec2.describe_image_usage_reports(ReportIds=[report_id]).get("ImageUsageReports", [])
    found = next((r for r in reports if r.get("ReportId") == report_id), None)
    if found is None:
        return "missing", None, "EC2 no longer lists the report"
    return found.get("State", ""), found.get("CreationTime"), found.get("StateReason", "")


def read_entries(ec2: Any, report_id: str) -> list[dict[str, Any]]:
    paginator = ec2.get_paginator("describe_image_usage_report_entries")
    return [
        entry
        for page in paginator.paginate(ReportIds=[report_id])
        for entry in page.get("ImageUsageReportEntries", [])
    ]


def collect_report(
    report_pk: int,
    session: AwsSession | None = None,
    sleep: Callable[[float], None] = time.sleep,
    polls: int = POLLS,
) -> ConsumerReport:
    """Poll a pending report until available, then store its consumers on the image.

    A report still pending after ``polls`` looks stays pending (the next pass looks again); an
    AWS error or a report in ``error`` fails it and changes nothing on the image.
    """
    report = ConsumerReport.objects.select_related("image__account").get(pk=report_pk)
    if report.status != ConsumerReportStatus.PENDING or not report.report_id:
        return report
    try:
        session = session or AwsSession(report.image.account, report.requested_by or None)
        ec2 = session.client("ec2", report.image.region)
        for attempt in range(polls):
            state, created, reason = read_report(ec2, report.report_id)
            if state != "pending" or attempt == polls - 1:
                break
            sleep(POLL_SECONDS)
        if state == "pending":
            return report
        if state != "available":
            _fail(report, f"the report is {state}: {reason}".strip(": "))
            return report
        consumers = consumers_from_entries(read_entries(ec2, report.report_id))
    except AWS_ERRORS as error:
        _fail(report, describe_error(error))
        return report
    store_consumers(report, consumers, created or report.requested_at)
    return report


def store_consumers(
    report: ConsumerReport, consumers: list[ReportedConsumer], reported_at: datetime
) -> None:
    """Replace the image's consumers by the report's, recount in_use, and announce it."""
    image = report.image
    before = list(image.consumers.values_list("account_id", flat=True))
    total = sum(consumer.total for consumer in consumers)
    with transaction.atomic():
        image.consumers.all().delete()
        ImageConsumer.objects.bulk_create(
            ImageConsumer(
                image=image,
                account_id=c.account_id,
                instances=c.instances,
                launch_templates=c.launch_templates,
                reported_at=reported_at,
            )
            for c in consumers
        )
        _write_external_usage(image, total, reported_at)
        report.status, report.finished_at = ConsumerReportStatus.AVAILABLE, timezone.now()
        report.save(update_fields=["status", "finished_at"])
        signals.consumers_reported.send(
            Image,
            image=image,
            report=report,
            before=before,
            after=[c.account_id for c in consumers],
            actor_name=report.requested_by,
        )


def _write_external_usage(image: Image, total: int, reported_at: datetime) -> None:
    """Store the report's total and recompute ``in_use`` by the sync's own rule."""
    rows = Image.objects.filter(pk=image.pk)
    rows.update(external_usage_count=total, consumers_reported_at=reported_at)
    if total:  # seen in use when the report was made (PostgreSQL's GREATEST skips NULL)
        rows.update(last_seen_in_use_at=Greatest(F("last_seen_in_use_at"), Value(reported_at)))
    rows.update(in_use=RawSQL(in_use_sql("usage_count", "external_usage_count"), []))
    image.refresh_from_db(fields=["external_usage_count", "consumers_reported_at", "in_use"])


def refresh_consumers(image: Image, actor_name: str = "") -> ConsumerReport:
    """Ask for a report of one image and collect it (the on-demand path)."""
    session = None
    try:
        session = AwsSession(image.account, actor_name or None)
    except AWS_ERRORS as error:
        logger.warning("Usage report of %s skipped: %s", image, describe_error(error))
    report_pk = request_report(image, actor_name, session)
    return collect_report(report_pk, session)


def images_due(limit: int) -> list[Image]:
    """Current images of enabled accounts that are exposed, or that other accounts used at the
    last report (unsharing leaves their instances running), the oldest report (or none) first."""
    return list(
        Image.objects.current()
        .filter(ImageQ.exposed() | Q(external_usage_count__gt=0))
        .filter(account__enabled=True)
        .select_related("account")
        .order_by(F("consumers_reported_at").asc(nulls_first=True), "pk")[:limit]
    )


def refresh_due_reports(limit: int | None = None, per_second: float | None = None) -> int:
    """The paced pass: reports for the exposed images whose report is oldest; returns how
    many became available. Pending reports of earlier passes are collected first."""
    for report_pk in ConsumerReport.objects.filter(status=ConsumerReportStatus.PENDING).values_list(
        "pk", flat=True
    )[:100]:
        collect_report(report_pk, polls=1)
    rate = per_second or settings.CONSUMER_REPORTS_PER_SECOND
    done = 0
    for _position, image in paced(images_due(limit or settings.CONSUMER_REPORTS_PER_PASS), rate):
        report = refresh_consumers(image)
        done += report.status == ConsumerReportStatus.AVAILABLE
    return done


#: Asking for a usage report reads AWS on the user's behalf, as a sync does: the same right.
REPORT_PERMISSION = "inventory.sync"


class ReportRefused(ValueError):
    """The image has no consumers outside its account to report on."""


def ask_for_report(actor: Any, image: Image) -> None:
    """Queue a usage report of ``image`` for ``actor`` (the image page, the request preview).

    Needs the sync right; the caller has checked that ``actor`` may see the image.
    """
    from django.core.exceptions import PermissionDenied

    from inventory.tasks import request_consumer_report

    if not actor.has_perm(REPORT_PERMISSION):
        raise PermissionDenied("You may not ask for usage reports.")
    if image.is_gone or not (image.public or image.shared_with):
        raise ReportRefused("Only a current public or shared image has other accounts to report.")
    request_consumer_report.delay_on_commit(image.pk, actor.get_username())
