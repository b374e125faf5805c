"""The inventory sync: every image of every account and Region, and what uses it.

One run has one result per account+Region. Each Region is listed completely before anything of
it is written; a Region whose listing fails in any way keeps its images exactly as they were
(invariant 1 in docs/architecture.md). The same functions serve the Celery fan-out
(``start_sync``), the command line (``run_sync``) and the worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from amidash.fields import is_account_id, is_region_name
from amidash.locks import sync_lock, sync_slot_lock
from inventory import signals
from inventory.choices import (
    FINAL_REGION_STATES,
    ImageState,
    RegionSyncStatus,
    SyncStatus,
    SyncTrigger,
)
from inventory.models import (
    Account,
    AccountRegion,
    Image,
    ImageUsage,
    SyncRegionResult,
    SyncRun,
    in_use_sql,
)
from inventory.observations import ObservedImage
from inventory.services.accounts import discover_regions, register_ambient_account
from inventory.services.allowed_images import sync_allowed_images
from inventory.services.ancestry import fetch_ancestry, save_ancestry
from inventory.services.aws import AWS_ERRORS, AwsSession, describe_error, home_region
from inventory.services.images import announce, listed_observations
from inventory.services.launch_permissions import fetch_launch_permissions
from inventory.services.listing import (
    RegionListing,
    UnreadableImage,
    UsageObservation,
    list_region,
)
from inventory.services.schedule import spread_regions
from inventory.services.upsert import upsert_images
from inventory.signals import ImageObservation

logger = logging.getLogger(__name__)

UPSERT_BATCH_SIZE = 2000
#: Images saved (and announced) at a time: a first sync of 100,000 images never holds them all
#: as dicts, rows, observations and audit events at once (each image in a batch costs about
#: 20 KB while it is saved; the listing keeps about 1 KB per image: bench/sync_memory.py).
SAVE_BATCH_SIZE = 2000


class SyncScopeError(ValueError):
    """The accounts or Regions asked for do not exist or are malformed (a usage error)."""


# --- starting a run ---------------------------------------------------------------------------


def validate_scope(account_ids: list[str] | None, regions: list[str] | None) -> None:
    """Refuse malformed or unknown account ids and malformed Region names, with the reason."""
    for account_id in account_ids or []:
        if not is_account_id(account_id):
            raise SyncScopeError(f"{account_id!r} is not an AWS account id (12 digits)")
    for region in regions or []:
        if not is_region_name(region):
            raise SyncScopeError(f"{region!r} is not a Region name such as eu-west-1")
    if account_ids:
        known = set(
            Account.objects.filter(account_id__in=account_ids).values_list("account_id", flat=True)
        )
        unknown = sorted(set(account_ids) - known)
        if unknown and not _is_ambient_only(unknown):
            raise SyncScopeError(f"unknown account {', '.join(unknown)}: add it first")


def _is_ambient_only(unknown: list[str]) -> bool:
    """The ambient account may be named before its first sync registered it."""
    if Account.objects.exists() or len(unknown) != 1:
        return False
    try:
        return AwsSession().caller_account_id() == unknown[0]
    except AWS_ERRORS:
        return False


def create_run(
    actor: AbstractBaseUser | None,
    account_ids: list[str] | None = None,
    regions: list[str] | None = None,
    source: str = SyncTrigger.WEB,
) -> SyncRun:
    """A queued run for the given scope (empty = every enabled account and Region)."""
    validate_scope(account_ids, regions)
    return SyncRun.objects.create(
        trigger=source,
        actor=actor if actor and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor and actor.is_authenticated else "",
        account_ids=sorted(set(account_ids or [])),
        regions=sorted(set(regions or [])),
    )


def start_sync(
    actor: AbstractBaseUser | None,
    account_ids: list[str] | None = None,
    regions: list[str] | None = None,
    source: str = "web",
) -> SyncRun:
    """Queue a sync through Celery (one task per account+Region once the run is prepared).

    Raises SyncScopeError for malformed or unknown accounts and Regions.
    """
    from inventory.tasks import prepare_sync_run

    with transaction.atomic():
        run = create_run(actor, account_ids, regions, source)
        prepare_sync_run.delay_on_commit(run.pk)
    return run


def prepare_run(run: SyncRun) -> list[SyncRegionResult] | None:
    """Mark the run running, discover each account's Regions and create its results.

    Regions not opted in, or switched off, are recorded as skipped. A failed discovery is a
    failed result for the account (its images are untouched). Returns the results to sync, or
    None for a run somebody else prepares or prepared (the claim queued -> running is
    conditional).
    """
    claimed = SyncRun.objects.filter(pk=run.pk, status=SyncStatus.QUEUED).update(
        status=SyncStatus.RUNNING, started_at=timezone.now()
    )
    run.refresh_from_db()
    if not claimed:  # prepared already: a redelivered or repeated task makes no second results
        return None
    if not Account.objects.exists():
        try:
            register_ambient_account()
        except AWS_ERRORS as error:
            _close(
                run,
                SyncStatus.FAILED,
                f"no account: the ambient credentials failed: {describe_error(error)}",
            )
            return []
    accounts = Account.objects.filter(enabled=True)
    if run.account_ids:
        accounts = accounts.filter(account_id__in=run.account_ids)
    pending: list[SyncRegionResult] = []
    for account in accounts.order_by("account_id"):
        pending += _prepare_account(run, account)
    spread_regions(run)
    SyncRun.objects.filter(pk=run.pk).update(regions_total=run.results.count())
    if not run.results.exists():
        _close(run, SyncStatus.FAILED, "nothing to sync: no enabled account in scope")
    return pending


def _prepare_account(run: SyncRun, account: Account) -> list[SyncRegionResult]:
    session: AwsSession | None = None
    try:
        session = AwsSession(account, run.actor_name or None)
        account_regions = discover_regions(account, session)
    except AWS_ERRORS as error:
        # The Regions found last time still stand (one Region's outage, home Region included,
        # must not stop the others); with none known the account fails as a whole.
        account_regions = list(AccountRegion.objects.filter(account=account).order_by("region"))
        logger.warning("Region discovery of %s failed: %s", account, describe_error(error))
        if not account_regions or session is None:
            SyncRegionResult.objects.create(
                sync_run=run,
                account=account,
                region=home_region(),
                status=RegionSyncStatus.FAILED,
                error=f"Region discovery failed: {describe_error(error)}",
                api_calls=session.stats.calls if session else 0,
                retries=session.stats.retries if session else 0,
            )
            return []
    wanted = set(run.regions or settings.SYNC_REGIONS or [])
    results = []
    for account_region in account_regions:
        if wanted and account_region.region not in wanted:
            continue
        result = SyncRegionResult(sync_run=run, account=account, region=account_region.region)
        if not account_region.is_opted_in:
            result.status, result.error = RegionSyncStatus.SKIPPED, "not opted in"
        elif not account_region.synced:
            result.status, result.error = RegionSyncStatus.SKIPPED, "sync switched off"
        results.append(result)
    missing = wanted - {r.region for r in account_regions}
    results += [
        SyncRegionResult(
            sync_run=run,
            account=account,
            region=region,
            status=RegionSyncStatus.SKIPPED,
            error="not a Region of this account's partition",
        )
        for region in sorted(missing)
    ]
    SyncRegionResult.objects.bulk_create(results)  # in Region order: the run page pages by id
    return [result for result in results if result.status == RegionSyncStatus.PENDING]


# --- one account+Region -----------------------------------------------------------------------


def sync_result(result: SyncRegionResult) -> SyncRegionResult:
    """List one account+Region and save it; a failure leaves its images as they were.

    Two syncs of the same account+Region never overlap: the second one fails at once.
    """
    account, region = result.account, result.region
    with sync_lock(account.account_id, region) as acquired:
        if not acquired:
            return _fail(result, "another sync of this account and Region is running", None, 0.0)
        return _sync_locked(result)


def _sync_locked(result: SyncRegionResult) -> SyncRegionResult:
    started_at = timezone.now()
    claimed = SyncRegionResult.objects.filter(pk=result.pk, status=RegionSyncStatus.PENDING).update(
        status=RegionSyncStatus.RUNNING, started_at=started_at
    )
    if claimed != 1:
        result.refresh_from_db()
        return result
    result.status, result.started_at = RegionSyncStatus.RUNNING, started_at  # saved again below
    run = result.sync_run
    started = time.monotonic()
    session: AwsSession | None = None
    account_region = AccountRegion.objects.get(account=result.account, region=result.region)
    try:
        session = AwsSession(result.account, run.actor_name or None)
        listing = list_region(session, result.region)
        due = _new_or_changed(account_region, listing)
        permissions = fetch_launch_permissions(session, result.region, due)
        ancestry = fetch_ancestry(session, result.region, _copies(listing, due))
        with transaction.atomic():
            counts = save_listing(account_region, listing, permissions.shared_with, run)
            save_ancestry(account_region.account_id, result.region, ancestry, timezone.now())
    except AWS_ERRORS as error:
        return _fail(result, describe_error(error), session, started)
    except UnreadableImage as error:
        return _fail(result, str(error), session, started)
    except Exception as error:  # a bug must not be mistaken for a listing: fail the Region
        logger.exception("Sync of %s/%s failed", result.account.account_id, result.region)
        return _fail(result, f"internal error: {type(error).__name__}: {error}", session, started)
    for key, value in counts.items():
        setattr(result, key, value)
    result.status = RegionSyncStatus.SUCCEEDED
    notes = []
    if permissions.error:
        notes.append(
            f"launch permissions of {permissions.unchecked} images left to the paced pass: "
            f"{permissions.error}"
        )
    notes.append(sync_allowed_images(session, account_region))
    result.error = "; ".join(note for note in notes if note)
    return _finish_result(result, session, started)


def _finish_result(
    result: SyncRegionResult, session: AwsSession | None, started: float
) -> SyncRegionResult:
    result.finished_at = timezone.now()
    result.duration_seconds = round(time.monotonic() - started, 3) if started else 0.0
    if session is not None:
        result.api_calls, result.retries = session.stats.calls, session.stats.retries
    result.save()
    AccountRegion.objects.filter(account=result.account, region=result.region).update(
        last_sync_at=result.finished_at, last_sync_status=result.status
    )
    return result


def _fail(
    result: SyncRegionResult, message: str, session: AwsSession | None, started: float
) -> SyncRegionResult:
    result.status, result.error = RegionSyncStatus.FAILED, message[:4000]
    return _finish_result(result, session, started)


def _new_or_changed(account_region: AccountRegion, listing: RegionListing) -> list[str]:
    """The listed images that are new or changed since the last listing: the ones whose launch
    permissions and ancestry the sync reads (the rest wait for the paced pass), and whose
    findings, if never read, its follow-up task reads."""
    known = dict(
        Image.objects.filter(
            account_id=account_region.account_id, region=account_region.region
        ).values_list("image_id", "fingerprint")
    )
    return [
        image_id
        for image_id in listing.image_ids
        if image_id not in known or known[image_id] != listing.digest(image_id)
    ]


def _copies(listing: RegionListing, image_ids: list[str]) -> list[dict[str, Any]]:
    """The Image shapes of the copies among ``image_ids`` (those naming a source), decoded a
    batch at a time: a first sync's images are all new, and holding them all decoded would
    cost what the compact listing saves."""
    copies = []
    for start in range(0, len(image_ids), SAVE_BATCH_SIZE):
        batch = listing.images_of(image_ids[start : start + SAVE_BATCH_SIZE])
        copies += [image for image in batch if image.get("SourceImageId")]
    return copies


def _queue_findings(results: list[SyncRegionResult]) -> None:
    """Inspector findings are enrichment: once the run is closed, a follow-up task per Region
    with new or changed images reads those never read, so neither a Region's sync nor the run
    waits on them, and the follow-ups never compete with the run for workers."""
    from inventory.tasks import read_new_findings

    due = {
        (result.account_id, result.region)
        for result in results
        if result.status == RegionSyncStatus.SUCCEEDED
        and (result.images_created or result.images_changed)
    }
    if not due:
        return
    rows = AccountRegion.objects.filter(account_id__in={account for account, _ in due})
    for pk, account_id, region in rows.values_list("pk", "account_id", "region"):
        if (account_id, region) in due:  # one query for the run, not one per Region
            read_new_findings.delay_on_commit(pk)


# --- saving a complete listing ----------------------------------------------------------------


@dataclass
class ListingChanges:
    """What a complete listing changes against the stored rows of its account+Region."""

    known: dict[str, tuple[str, bool]]  # image id -> (fingerprint, present, i.e. not gone)
    digests: dict[str, str]  # fingerprints of listed images already stored
    written: list[str]  # listed images that are new, changed or back
    gone_ids: list[str]  # present images the listing no longer has
    existing: dict[str, Image]  # stored rows about to change or go

    @property
    def new(self) -> set[str]:
        return set(self.written) - self.known.keys()


def save_listing(
    account_region: AccountRegion,
    listing: RegionListing,
    permissions: dict[str, list[str]],
    run: SyncRun | None,
) -> dict[str, int]:
    """Upsert the images of a complete listing, mark the missing ones gone, replace the
    Region's usage and send the domain signals. Call inside a transaction."""
    now = timezone.now()
    changes = _listing_changes(account_region, listing)
    new, created = changes.new, 0
    for start in range(0, len(changes.written), SAVE_BATCH_SIZE):
        batch = listing.images_of(changes.written[start : start + SAVE_BATCH_SIZE])
        fields = upsert_images(
            account_region, batch, now, digests=changes.digests, permissions=permissions, new=new
        )
        observations, appeared = listed_observations(
            account_region, batch, fields, changes.existing, permissions
        )
        created += appeared
        announce(observations, source="sync", sync_run=run)
    gone = [changes.existing[image_id] for image_id in changes.gone_ids]
    observations = _mark_gone(gone, now)
    usage_rows, summaries = _save_usage(account_region, listing, now)
    announce(observations, source="sync", sync_run=run)
    return {
        "images_seen": len(listing),
        "images_created": created,
        "images_changed": len(changes.written) - created,
        "images_gone": len(gone),
        "image_rows_written": len(changes.written) + summaries + len(gone),
        "usages_seen": usage_rows,
    }


def _listing_changes(account_region: AccountRegion, listing: RegionListing) -> ListingChanges:
    """Compare a listing with the stored fingerprints: only new or changed images are written,
    and only present images the listing lacks go (the listing is complete)."""
    known = _stored_fingerprints(account_region)
    listed = listing.image_ids
    # Digests of new images are made with their rows, off this thread (see upsert_images).
    digests = {image_id: listing.digest(image_id) for image_id in listed if image_id in known}
    written = [
        image_id
        for image_id in listed
        if image_id not in known or known[image_id] != (digests[image_id], True)
    ]
    stale = [image_id for image_id in written if image_id in known]
    listed = set(listed)
    gone_ids = [i for i, (_, present) in known.items() if present and i not in listed]
    existing = _stored_images(account_region, stale + gone_ids)
    return ListingChanges(known, digests, written, gone_ids, existing)


def _stored_fingerprints(account_region: AccountRegion) -> dict[str, tuple[str, bool]]:
    """Fingerprint and presence of every stored image: listings are compared by digest, and
    whole rows are read only for the images about to change."""
    return {
        image_id: (digest, gone_at is None)
        for image_id, digest, gone_at in Image.objects.filter(
            account_id=account_region.account_id, region=account_region.region
        ).values_list("image_id", "fingerprint", "gone_at")
    }


def _stored_images(account_region: AccountRegion, image_ids: list[str]) -> dict[str, Image]:
    return {
        image.image_id: image
        for image in Image.objects.filter(
            account_id=account_region.account_id,
            region=account_region.region,
            image_id__in=image_ids,
        ).select_related("account")
    }


def _save_usage(
    account_region: AccountRegion, listing: RegionListing, now: datetime
) -> tuple[int, int]:
    """Replace the Region's usage, refresh the images' usage summaries and note the listing;
    returns the usage rows saved and the image rows whose summary changed."""
    usage_rows = replace_usages(account_region, listing.usages, now)
    summaries = refresh_usage_summary(
        account_region.region, now, account_region.last_listed_at or now
    )
    account_region.last_listed_at = now
    account_region.save(update_fields=["last_listed_at"])
    return usage_rows, summaries


def _mark_gone(images: list[Image], now: datetime) -> list[ImageObservation]:
    observations = []
    for image in images:
        before = ObservedImage.from_row(image)
        image.state, image.gone_at = ImageState.DEREGISTERED, now
        observations += signals.observations(before, before.gone_since(now))
    Image.objects.bulk_update(images, ["state", "gone_at"], batch_size=UPSERT_BATCH_SIZE)
    return observations


def replace_usages(
    account_region: AccountRegion, observed: list[UsageObservation], now: datetime
) -> int:
    """Make the stored usage of this account+Region exactly the observed one."""
    account, region = account_region.account, account_region.region
    stored = {
        (u.image_ref, u.usage_type, u.resource_id): u
        for u in ImageUsage.objects.filter(account=account, region=region)
    }
    seen = {(o.image_ref, o.usage_type, o.resource_id): o for o in observed}
    stale = [u.pk for key, u in stored.items() if key not in seen]
    if stale:
        ImageUsage.objects.filter(pk__in=stale).delete()
    changed = [
        _with_detail(stored[key], o)
        for key, o in seen.items()
        if key in stored
        and (stored[key].detail != o.detail or stored[key].resource_name != o.resource_name)
    ]
    ImageUsage.objects.bulk_update(changed, ["detail", "resource_name"], batch_size=1000)
    ImageUsage.objects.bulk_create(
        [
            ImageUsage(
                image_ref=o.image_ref,
                usage_type=o.usage_type,
                resource_id=o.resource_id[:255],
                resource_name=o.resource_name[:255],
                detail=o.detail,
                account=account,
                region=region,
                observed_at=now,
            )
            for key, o in seen.items()
            if key not in stored
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    return len(seen)


def _with_detail(usage: ImageUsage, observation: UsageObservation) -> ImageUsage:
    usage.detail, usage.resource_name = observation.detail, observation.resource_name[:255]
    return usage


USAGE_SUMMARY_SQL = """
WITH counts AS (
    SELECT i.id, COUNT(u.id) AS n
    FROM inventory_image i
    LEFT JOIN inventory_imageusage u ON u.region = i.region AND u.image_ref = i.image_id
    WHERE i.region = %(region)s
    GROUP BY i.id
)
UPDATE inventory_image i
SET usage_count = c.n,
    in_use = {in_use},
    last_seen_in_use_at = CASE
        WHEN {in_use} AND NOT i.in_use THEN %(now)s
        WHEN NOT {in_use} AND i.in_use THEN %(last_seen)s
        ELSE i.last_seen_in_use_at END
FROM counts c
WHERE i.id = c.id AND i.usage_count <> c.n
""".format(in_use=in_use_sql("c.n", "i.external_usage_count"))

LINK_USAGE_SQL = """
UPDATE inventory_imageusage u SET image_id = i.id
FROM inventory_image i
WHERE u.region = %(region)s AND u.image_id IS NULL
  AND i.region = u.region AND i.image_id = u.image_ref
"""


def refresh_usage_summary(region: str, now: datetime, last_seen: datetime) -> int:
    """Recount usage of every image in the Region (any account may use it); returns the image
    rows that changed. An image that stops being used keeps the previous listing's time."""
    params = {"region": region, "now": now, "last_seen": last_seen}
    with connection.cursor() as cursor:
        cursor.execute(LINK_USAGE_SQL, params)
        cursor.execute(USAGE_SUMMARY_SQL, params)
        return cursor.rowcount


# --- closing a run ----------------------------------------------------------------------------


def finish_run(run_id: int) -> SyncRun:
    """Close the run once every result is final (idempotent); sends ``sync_finished`` once."""
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run_id)
        if run.is_finished:
            return run
        results = list(run.results.all())
        if any(r.status not in FINAL_REGION_STATES for r in results):
            return run
        _total(run, results)
        failed, succeeded = run.regions_failed, run.regions_succeeded
        status = SyncStatus.SUCCEEDED
        if failed:
            status = SyncStatus.PARTIAL if succeeded else SyncStatus.FAILED
        if not results:
            status = SyncStatus.FAILED
        _queue_findings(results)
        return _close(run, status, run.error)


def _total(run: SyncRun, results: list[SyncRegionResult]) -> None:
    run.regions_total = len(results)
    for status, field in (
        (RegionSyncStatus.SUCCEEDED, "regions_succeeded"),
        (RegionSyncStatus.FAILED, "regions_failed"),
        (RegionSyncStatus.SKIPPED, "regions_skipped"),
    ):
        setattr(run, field, sum(1 for r in results if r.status == status))
    for field in (
        "images_seen",
        "images_created",
        "images_changed",
        "images_gone",
        "api_calls",
        "retries",
    ):
        setattr(run, field, sum(getattr(r, field) for r in results))


def _close(run: SyncRun, status: str, error: str = "") -> SyncRun:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.started_at = run.started_at or run.finished_at
    run.save()
    synced = {r.account_id for r in run.results.filter(status=RegionSyncStatus.SUCCEEDED)}
    Account.objects.filter(pk__in=synced).update(last_synced_at=run.finished_at)
    signals.sync_finished.send(SyncRun, sync_run=run, actor=run.actor, source=run.trigger)
    return run


# --- reaping runs whose workers were lost -----------------------------------------------------

WORKER_LOST = "worker lost: the Region stopped reporting before it finished"
CONNECTION_LOST = "database connection lost before the Region was recorded"


def reap_runs(now: datetime | None = None) -> int:
    """Fail Regions whose worker is gone, then close their runs; returns how many Regions.

    A running Region is lost when nobody holds its sync lock any more (the lock is a session
    lock, released when the worker's connection dies) and it started longer ago than
    SYNC_REAP_AFTER_SECONDS. A Region still pending the task's hard time limit after it was
    queued never started (one not queued yet waits for the dispatcher: services/schedule.py).
    Runs that never got a Region are closed as failed after that limit too.
    """
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.SYNC_REAP_AFTER_SECONDS)
    never = now - timedelta(seconds=settings.SYNC_REGION_TIME_LIMIT + 60)
    running = SyncRegionResult.objects.filter(status=RegionSyncStatus.RUNNING, started_at__lt=grace)
    lost = [r for r in running.select_related("account") if not _is_held(r)]
    pending = SyncRegionResult.objects.filter(status=RegionSyncStatus.PENDING, queued_at__lt=never)
    lost += list(pending.select_related("account"))
    for result in lost:
        _fail_lost(result)
    runs = {r.sync_run_id for r in lost}
    empty = SyncRun.objects.filter(
        status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING], created_at__lt=never, results=None
    )
    for run in empty:
        _close(run, SyncStatus.FAILED, "worker lost: the run never got to its Regions")
    for run_id in runs:
        finish_run(run_id)
    return len(lost)


def _is_held(result: SyncRegionResult) -> bool:
    """Does a live worker hold this account+Region's sync lock?"""
    with sync_lock(result.account.account_id, result.region) as free:
        return not free


def stalled_regions(now: datetime | None = None) -> list[int]:
    """Pending Regions whose task may be lost, to be queued again; returns their ids.

    A broker restarted without persistence loses the queued messages of a run's Regions (and a
    worker's retry waiting for a slot). A Region queued longer than SYNC_REAP_AFTER_SECONDS ago,
    still pending while no Region of its account holds a slot, is not waiting for one: its
    message is gone, or every worker is busy elsewhere (Regions not queued yet are the
    dispatcher's). Queuing it again is safe either way (the task claims a
    pending Region with a conditional UPDATE; a duplicate finds it claimed and does nothing).
    """
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.SYNC_REAP_AFTER_SECONDS)
    pending = SyncRegionResult.objects.filter(
        status=RegionSyncStatus.PENDING, queued_at__lt=grace
    ).select_related("account")
    busy: dict[str, bool] = {}
    stalled = []
    for result in pending.order_by("pk"):
        account_id = result.account.account_id
        if account_id not in busy:
            busy[account_id] = _is_syncing(account_id)
        if not busy[account_id]:
            stalled.append(result.pk)
    return stalled


def stalled_runs(now: datetime | None = None) -> list[int]:
    """Runs still queued past SYNC_REAP_AFTER_SECONDS while no Region of any run is syncing:
    their message was lost (or no worker runs), so they are to be queued again; returns their
    ids. A second message is harmless: only one task claims a queued run."""
    now = now or timezone.now()
    if SyncRegionResult.objects.filter(status=RegionSyncStatus.RUNNING).exists():
        return []  # a worker is busy: a queued run may be waiting behind its Regions
    grace = now - timedelta(seconds=settings.SYNC_REAP_AFTER_SECONDS)
    queued = SyncRun.objects.filter(status=SyncStatus.QUEUED, created_at__lt=grace)
    return list(queued.order_by("pk").values_list("pk", flat=True))


def _is_syncing(account_id: str) -> bool:
    """Does a live worker hold one of the account's concurrency slots?"""
    for slot in range(settings.SYNC_REGIONS_PER_ACCOUNT):
        with sync_slot_lock(account_id, slot) as free:
            if not free:
                return True
    return False


def fail_after_connection_loss(result_id: int, error: BaseException) -> SyncRegionResult:
    """The worker of a running Region lost its database connection (a restart, a cut), and its
    sync lock with the session. Its save is one transaction: either none of the listing was
    written, or all of it was and only the result was not (then the Region is reported failed
    though its images are right, as the reaper would). Connect anew, fail the Region with the
    reason and try to close the run. A Region not claimed yet stays pending (the reaper queues
    it again); if the database is still out of reach this raises, and the reaper fails the
    Region as "worker lost"."""
    connection.close()  # the broken connection; the next query connects anew
    result = SyncRegionResult.objects.select_related("account").get(pk=result_id)
    if result.status == RegionSyncStatus.RUNNING:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        _fail_lost(result, f"{CONNECTION_LOST}: {reason}", [RegionSyncStatus.RUNNING])
        result.refresh_from_db()
    finish_run(result.sync_run_id)
    return result


def _fail_lost(
    result: SyncRegionResult,
    error: str = WORKER_LOST,
    states: tuple[str, ...] | list[str] = (RegionSyncStatus.RUNNING, RegionSyncStatus.PENDING),
) -> None:
    """running or pending -> failed (conditional: a late worker's own result wins)."""
    done = SyncRegionResult.objects.filter(pk=result.pk, status__in=list(states)).update(
        status=RegionSyncStatus.FAILED, error=error[:4000], finished_at=timezone.now()
    )
    if done:
        AccountRegion.objects.filter(account=result.account, region=result.region).update(
            last_sync_at=timezone.now(), last_sync_status=RegionSyncStatus.FAILED
        )


# --- running a whole sync in this process -----------------------------------------------------


def run_sync(
    actor: AbstractBaseUser | None,
    account_ids: list[str] | None = None,
    regions: list[str] | None = None,
    source: str = SyncTrigger.CLI,
    concurrency: int = 1,
    on_result: Callable[[SyncRegionResult], None] | None = None,
) -> SyncRun:
    """A synchronous sync (the command line): same steps as the Celery fan-out.

    With ``concurrency`` > 1 account+Regions are listed in threads (each with its own
    database connection).
    """
    run = create_run(actor, account_ids, regions, source)
    pending = prepare_run(run) or []
    # This process syncs them: the dispatcher must not queue them for a worker too.
    queued_at = timezone.now()
    run.results.filter(pk__in=[r.pk for r in pending]).update(queued_at=queued_at)
    for result in pending:
        result.queued_at = queued_at
    for result in run.results.exclude(status=RegionSyncStatus.PENDING):
        if on_result:
            on_result(result)

    def work(result: SyncRegionResult) -> SyncRegionResult:
        try:
            return sync_result(result)
        finally:
            if concurrency > 1:
                close_old_connections()
                connection.close()

    if concurrency > 1:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for done in pool.map(work, pending):
                if on_result:
                    on_result(done)
    else:
        for result in pending:
            done = work(result)
            if on_result:
                on_result(done)
    return finish_run(run.pk)
