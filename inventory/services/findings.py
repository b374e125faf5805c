"""Amazon Inspector findings per image (GetImageFindings), counted by severity.

One paginated call per image, made by a follow-up task queued per Region with new or changed
images when the sync run closes (every never-read image of the Region, unpaced: the sync itself
does not wait on Inspector) and, paced with the launch-permission pass, for images whose counts
are older than FINDINGS_MAX_AGE_HOURS. Until read, an image is "not scanned" (not read yet). An
endpoint without the call, or a role without the permission, makes the images "not scanned"
(unknown, never zero: invariant 10 in docs/architecture.md). Throttling or another error stops
the round and leaves the rest as they were. Findings never fail a Region.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory.choices import FindingSeverity, FindingsStatus
from inventory.models import AccountRegion, Image, ImageFindings
from inventory.services.aws import AWS_ERRORS, DENIED_CODES, AwsSession, describe_error, paced
from inventory.services.listing import UNSUPPORTED_CODES

logger = logging.getLogger(__name__)

SEVERITIES = [severity.value for severity in FindingSeverity]


@dataclass
class FindingsRound:
    """Counts by severity of the images read, and the images that cannot be scanned and why."""

    counts: dict[str, Counter] = field(default_factory=dict)
    not_scanned: dict[str, str] = field(default_factory=dict)
    error: str = ""


def fetch_findings(
    session: AwsSession, region: str, image_ids: list[str], per_second: float | None = None
) -> FindingsRound:
    """Findings of each image, one paginated call per image, ``per_second`` paced."""
    ec2 = session.client("ec2", region)
    found = FindingsRound()
    for position, image_id in paced(image_ids, per_second):
        try:
            found.counts[image_id] = _count(ec2, image_id)
        except AWS_ERRORS as error:
            reason = _not_scanned_reason(error)
            if reason:
                found.not_scanned |= dict.fromkeys(image_ids[position:], reason)
            else:
                found.error = describe_error(error)
                logger.warning("GetImageFindings in %s stopped: %s", region, found.error)
            return found
    return found


def _count(ec2: Any, image_id: str) -> Counter:
    """Findings by severity over every page (a paginator per image costs more than its call)."""
    counts: Counter = Counter()
    token: dict[str, str] = {}
    while True:
        page = ec2.get_image_findings(ImageId=image_id, **token)
        counts.update(f.get("SeverityLabel", "").lower() for f in page.get("ImageFindings", []))
        if not page.get("NextToken"):
            return counts
        token = {"NextToken": page["NextToken"]}


def _not_scanned_reason(error: Exception) -> str:
    """Why images cannot be scanned at all, or "" for a passing error (throttling, outage)."""
    if isinstance(error, ResponseParserError):  # an emulator answering HTML for unknown calls
        return "GetImageFindings is not available at this endpoint"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        if code in UNSUPPORTED_CODES:
            return "GetImageFindings is not available at this endpoint"
        if code in DENIED_CODES:
            return f"not permitted to read Inspector findings ({code})"
    return ""


def save_findings(account_id: int, region: str, found: FindingsRound, now: datetime) -> int:
    """Upsert the findings of the images read or found unscannable; returns rows written.

    The findings table's triggers (migration 0016) copy what the Overview counts (scanned, critical,
    high) onto the image rows in the same statement, and so into the image rollups."""
    wanted = set(found.counts) | set(found.not_scanned)
    if not wanted:
        return 0
    images = Image.objects.pks_by_image_id(account_id, region, wanted)
    rows = [
        ImageFindings(
            image_id=pk,
            status=FindingsStatus.SCANNED
            if image_id in found.counts
            else FindingsStatus.NOT_SCANNED,
            reason=found.not_scanned.get(image_id, "")[:255],
            checked_at=now,
            **{s: found.counts.get(image_id, Counter())[s] for s in SEVERITIES},
        )
        for image_id, pk in images.items()
    ]
    ImageFindings.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["image"],
        update_fields=["status", "reason", "checked_at", *SEVERITIES],
    )
    return len(rows)


def images_due(account_region: AccountRegion, limit: int, never_read: bool = False) -> list[str]:
    """Present images never checked (first) or checked longer ago than FINDINGS_MAX_AGE_HOURS;
    with ``never_read``, only the never-checked ones."""
    due = Q(findings__isnull=True)
    if not never_read:
        cutoff = timezone.now() - timedelta(hours=settings.FINDINGS_MAX_AGE_HOURS)
        due |= Q(findings__checked_at__lt=cutoff)
    return list(
        Image.objects.current()
        .filter(account_id=account_region.account_id, region=account_region.region)
        .filter(due)
        .order_by(F("findings__checked_at").asc(nulls_first=True), "pk")
        .values_list("image_id", flat=True)[:limit]
    )


def refresh_findings(account_region: AccountRegion, limit: int = 500) -> int:
    """Read the findings of up to ``limit`` due images, paced like the launch-permission pass
    (LAUNCH_PERMISSIONS_PER_SECOND); returns how many images were written."""
    image_ids = images_due(account_region, limit)
    written, _ = _read_and_save(account_region, image_ids, settings.LAUNCH_PERMISSIONS_PER_SECOND)
    return written


def read_new_findings(account_region: AccountRegion, batch: int = 500) -> int:
    """Read the findings of every never-read image of the account+Region, ``batch`` at a time and
    unpaced (the sync's follow-up); returns how many images were written. Safe to repeat: a second
    run finds nothing due. Throttling or another error stops it and leaves the rest not read."""
    written = 0
    while True:
        image_ids = images_due(account_region, batch, never_read=True)
        saved, complete = _read_and_save(account_region, image_ids, None)
        written += saved
        if not complete or len(image_ids) < batch:
            return written


def _read_and_save(
    account_region: AccountRegion, image_ids: list[str], per_second: float | None
) -> tuple[int, bool]:
    """Rows written, and whether the round went through (no throttling, error or bad session)."""
    if not image_ids:
        return 0, True
    try:
        session = AwsSession(account_region.account)
    except AWS_ERRORS as error:
        logger.warning("Findings of %s skipped: %s", account_region, describe_error(error))
        return 0, False
    found = fetch_findings(session, account_region.region, image_ids, per_second)
    with transaction.atomic():
        written = save_findings(
            account_region.account_id, account_region.region, found, timezone.now()
        )
    return written, not found.error
