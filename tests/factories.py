"""Plain functions that make rows for tests: one ``create_<model>`` per model, fields overridable.

Model rows are made with the ORM and sensible defaults (no AWS involved). Audit events, the
inventory as a sync finds it, requests and approvals are made through their services, so the rules
those services keep (the hash chain, the fingerprint, four eyes) hold for them too.
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group, User
from django.test import Client, TestCase
from django.utils import timezone

from inventory.choices import ImageState, RegionSyncStatus, SyncStatus, UsageType
from inventory.models import (
    Account,
    AccountRegion,
    Image,
    ImageUsage,
    SyncRegionResult,
    SyncRun,
    image_family,
)
from inventory.services.snapshots import record_estate_snapshot
from inventory.services.sync import run_sync
from lifecycle.choices import Decision
from lifecycle.models import (
    AccountAccess,
    AccountScope,
    Approval,
    AuditEvent,
    AuditSource,
    LifecycleRequest,
    PacingBucket,
    RequestItem,
)
from lifecycle.services.audit import EventDraft, Target, record_event, record_events
from lifecycle.services.requests import RequestDraft, approve_request, create_request
from policies.models import Policy

PASSWORD = "correct horse battery staple"

_serial = itertools.count(1)


# People


def create_user(
    username: str, *roles: str, superuser: bool = False, all_accounts: bool = True
) -> User:
    """A user with the password ``PASSWORD`` in the groups of ``roles``, on every account unless
    ``all_accounts`` is off (then only on the accounts of their scopes)."""
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    AccountAccess.objects.create(user=user, all_accounts=all_accounts)
    if superuser:
        user.is_superuser = user.is_staff = True
        user.save()
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


def signed_in(user: User) -> Client:
    """A test client signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


# Inventory


def create_account(account_id: str = "111122223333", name: str = "prod", **fields: Any) -> Account:
    """The account with this id, created with ``name`` and ``fields`` if it does not exist."""
    account, _ = Account.objects.get_or_create(
        account_id=account_id, defaults={"name": name, **fields}
    )
    return account


def create_account_region(
    account: Account, region: str = "us-east-1", **fields: Any
) -> AccountRegion:
    account_region, _ = AccountRegion.objects.get_or_create(
        account=account, region=region, defaults=fields
    )
    return account_region


def create_image(
    *,
    account: Account | None = None,
    region: str = "us-east-1",
    name: str | None = None,
    age_days: int | None = 10,
    state: str = ImageState.AVAILABLE,
    **fields: Any,
) -> Image:
    """An image with sensible defaults; any model field can be overridden."""
    account = account or create_account()
    number = next(_serial)
    now = timezone.now()
    name = name if name is not None else f"app-server-1.{number}.0"
    values: dict[str, Any] = {
        "image_id": f"ami-{number:017x}",
        "name": name,
        "family": image_family(name),
        "state": state,
        "creation_date": now - datetime.timedelta(days=age_days) if age_days is not None else None,
        "storage_gib": 8,
        "block_devices": [
            {"device": "/dev/xvda", "snapshot_id": f"snap-{number:017x}", "size_gib": 8,
             "volume_type": "gp3", "encrypted": True}
        ],
        "first_seen_at": now - datetime.timedelta(days=1),
        "last_seen_at": now,
        "architecture": "x86_64",
    }  # fmt: skip
    values.update(fields)
    return Image.objects.create(
        account=account,
        account_region=create_account_region(account, region),
        region=region,
        **values,
    )


def create_image_usage(
    image: Image,
    usage_type: str = UsageType.INSTANCE,
    resource_id: str | None = None,
    **fields: Any,
) -> ImageUsage:
    """A use of ``image``; the image's in-use flag and count follow, as the sync keeps them."""
    usage = ImageUsage.objects.create(
        image=image,
        image_ref=image.image_id,
        usage_type=usage_type,
        resource_id=resource_id or f"i-{next(_serial):017x}",
        account=image.account,
        region=image.region,
        observed_at=timezone.now(),
        **fields,
    )
    count = image.usages.count()
    Image.objects.filter(pk=image.pk).update(in_use=True, usage_count=count)
    image.in_use, image.usage_count = True, count
    return usage


def create_sync_run(
    status: str = SyncStatus.SUCCEEDED,
    *,
    results: list[tuple[Account, str, str, str]] = (),
    **fields: Any,
) -> SyncRun:
    """A sync run with (account, region, status, error) results; a finished one snapshots the
    estate, as closing a run does."""
    now = timezone.now()
    finished = status in {SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED}
    values = {
        "started_at": now - datetime.timedelta(seconds=30),
        "finished_at": now if finished else None,
        "regions_total": len(results),
        "regions_succeeded": sum(1 for r in results if r[2] == RegionSyncStatus.SUCCEEDED),
        "regions_failed": sum(1 for r in results if r[2] == RegionSyncStatus.FAILED),
    }
    values.update(fields)
    run = SyncRun.objects.create(status=status, **values)
    for account, region, region_status, error in results:
        create_sync_region_result(run, account, region, region_status, error)
    if finished:
        record_estate_snapshot(run)
    return run


def create_sync_region_result(
    sync_run: SyncRun,
    account: Account,
    region: str = "us-east-1",
    status: str = RegionSyncStatus.SUCCEEDED,
    error: str = "",
    **fields: Any,
) -> SyncRegionResult:
    return SyncRegionResult.objects.create(
        sync_run=sync_run, account=account, region=region, status=status, error=error, **fields
    )


def sync(**kwargs: Any) -> SyncRun:
    """The inventory as a command-line sync of the sandbox finds it (run as the system)."""
    return run_sync(None, **kwargs)


def sync_with_follow_ups(**kwargs: Any) -> SyncRun:
    """A command-line sync and the tasks its Regions queue on commit (the Inspector findings of
    their new images), run here as a worker would run them."""
    from amidash.celery import app

    eager, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            return run_sync(None, **kwargs)
    finally:
        app.conf.task_always_eager = eager


def image(image_id: str) -> Image:
    """The inventory row of the AMI ``image_id``."""
    return Image.objects.select_related("account").get(image_id=image_id)


# Lifecycle


def create_lifecycle_request(requester: AbstractBaseUser, **fields: Any) -> LifecycleRequest:
    """A bare lifecycle request row: none of the request service's rules are applied."""
    values: dict[str, Any] = {
        "action": "deprecate",
        "reason": "old base image",
        "fingerprint": "0" * 64,
        "expires_at": timezone.now() + datetime.timedelta(days=7),
    }
    values.update(fields)
    return LifecycleRequest.objects.create(requester=requester, **values)


def create_request_item(request: LifecycleRequest, image: Image, **fields: Any) -> RequestItem:
    """An item of ``request`` for ``image``, observed as the image row is now."""
    values: dict[str, Any] = {
        "ami_id": image.image_id,
        "account_id": image.account.account_id,
        "region": image.region,
        "observed": {"state": image.state},
    }
    values.update(fields)
    return RequestItem.objects.create(request=request, image=image, **values)


def create_approval(
    request: LifecycleRequest, approver: AbstractBaseUser, **fields: Any
) -> Approval:
    """A bare decision row (approve unless told otherwise) on the request's fingerprint."""
    values: dict[str, Any] = {"decision": Decision.APPROVE, "fingerprint": request.fingerprint}
    values.update(fields)
    return Approval.objects.create(request=request, approver=approver, **values)


def create_account_scope(user: AbstractBaseUser, account: Account) -> AccountScope:
    return AccountScope.objects.create(user=user, account=account)


def create_pacing_bucket(key: str = "111122223333:us-east-1:ec2", **fields: Any) -> PacingBucket:
    values: dict[str, Any] = {"tokens": 1.0, "updated_at": timezone.now()}
    values.update(fields)
    return PacingBucket.objects.create(key=key, **values)


def ask(
    requester,
    action: str,
    image_ids: list[str],
    reason: str = "cleanup of old builds",
    **options: Any,
) -> LifecycleRequest:
    """A request made through the request service, as the web form makes it."""
    pks = [image(i).pk for i in image_ids]
    draft = RequestDraft(action=action, image_pks=pks, reason=reason, **options)
    return create_request(requester, draft, AuditSource.WEB)


def ask_allowed_images(
    requester,
    state: str = "audit-mode",
    criteria: list[dict[str, Any]] | None = None,
    account_id: str = "123456789012",
    region: str = "us-east-1",
) -> LifecycleRequest:
    """An Allowed AMIs change of a synced account+Region, as the compliance page proposes it."""
    from lifecycle.services.allowed_images import request_allowed_images_change

    pk = AccountRegion.objects.get(account__account_id=account_id, region=region).pk
    criteria = [{"ImageProviders": ["amazon"]}] if criteria is None else criteria
    parameters = {"state": state, "criteria": criteria}
    return request_allowed_images_change(
        requester, pk, parameters, "audit the golden image rule first", AuditSource.WEB
    )


def approve(approver, request: LifecycleRequest, comment: str = "ok") -> LifecycleRequest:
    """An approval made through the request service, on the request's fingerprint."""
    return approve_request(approver, request.pk, request.fingerprint, comment, AuditSource.WEB)


# Audit log


def create_audit_event(verb: str = "image.appeared", **fields: Any) -> AuditEvent:
    """One event appended to the chain by the audit service (by the sync unless told otherwise)."""
    values: dict[str, Any] = {"actor": None, "source": "sync"}
    values.update(fields)
    return record_event(verb, **values)


def create_audit_events(
    count: int, *, verb: str = "image.appeared", account: str = "123456789012", **extra
) -> tuple[int, int]:
    """Append ``count`` sync-observed image events; returns their first and last sequence."""
    first = last_audit_sequence() + 1
    drafts = (
        EventDraft(
            verb=verb,
            actor=None,
            source="sync",
            target=Target("image", f"ami-{n:017x}", account, "eu-west-1", f"img-{n}"),
            after={"state": "available", "n": n},
            message=f"event {n}",
            **extra,
        )
        for n in range(count)
    )
    record_events(drafts)
    return first, first + count - 1


def last_audit_sequence() -> int:
    """The sequence of the newest event (0 when the log is empty)."""
    return AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0


def request_events(request: LifecycleRequest):
    """The audit events of this request.

    The audit log is never flushed, while request numbers start again after a flush (one test
    flushes): events an earlier test committed may name the same ``request:<pk>``, but they
    happened before this request was made.
    """
    return AuditEvent.objects.filter(
        correlation_id=f"request:{request.pk}", occurred_at__gte=request.created_at
    )


# Policies


def create_listed_image(name: str, age_days: int = 200, **fields: Any) -> Image:
    """An image whose Region was listed just now and whose usage report (for a public or shared
    one) is from now (so its usage is known), first seen long ago."""
    fields.setdefault("first_seen_at", timezone.now() - datetime.timedelta(days=400))
    fields.setdefault("consumers_reported_at", timezone.now())
    fields.setdefault("account", create_account())
    image = create_image(name=name, age_days=age_days, **fields)
    AccountRegion.objects.filter(pk=image.account_region_id).update(last_listed_at=timezone.now())
    return image


def create_policy(name: str = "tidy", **fields: Any) -> Policy:
    """A retention policy with the given fields (everything else as the model defaults)."""
    return Policy.objects.create(name=name, **fields)
