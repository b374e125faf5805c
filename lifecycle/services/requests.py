"""Creating, approving, rejecting, cancelling and expiring lifecycle requests.

Every function takes the acting user explicitly and serves the web pages, the admin, commands
and the worker alike. Rules enforced here, whatever the route (invariants 2, 3 and 5 in
docs/architecture.md):
nobody decides on their own request, nobody decides twice, a decision names the fingerprint the
approver saw, and an image in use is only disabled or deregistered with an explicit override.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from amidash.scope import acting_account_ids, sees_every_account
from inventory.filtersets import matching_image_pks
from inventory.models import Account, Image
from lifecycle.actions import ACTIONS
from lifecycle.choices import Decision, ItemStatus, RequestStatus
from lifecycle.exceptions import RequestError
from lifecycle.models import (
    Approval,
    AuditSource,
    AuditVerb,
    LifecycleRequest,
    RequestItem,
)
from lifecycle.services import notifications
from lifecycle.services.audit import record_event
from lifecycle.services.preview import ImagePreview, observed_state, preview_images

REQUEST_PERMISSION = "lifecycle.request_action"
APPROVE_PERMISSION = "lifecycle.approve_request"
VIEW_PERMISSION = "lifecycle.view_lifecyclerequest"
MAX_IMAGES_PER_REQUEST = 5000


@dataclass
class RequestDraft:
    """What a requester asks for, before it is validated."""

    action: str
    image_pks: list[int]
    reason: str
    parameters: dict[str, Any] = field(default_factory=dict)
    ticket: str = ""
    override_in_use: bool = False
    override_reason: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    approvable_from: datetime | None = None


# --- permissions ------------------------------------------------------------------------------


def may_request(user: AbstractBaseUser) -> bool:
    return user.is_authenticated and user.has_perm(REQUEST_PERMISSION)


def may_approve(user: AbstractBaseUser) -> bool:
    return user.is_authenticated and user.has_perm(APPROVE_PERMISSION)


def require_view(user: AbstractBaseUser) -> None:
    """Reading requests needs the view permission or the Requester role (pages and API)."""
    if not (user.has_perm(VIEW_PERMISSION) or may_request(user)):
        raise PermissionDenied("Reading lifecycle requests needs a role.")


def scoped_account_ids(user: AbstractBaseUser) -> set[str] | None:
    """The accounts a user may act on, or None for every account (``amidash.scope``)."""
    return acting_account_ids(user)


def visible_requests(
    user: AbstractBaseUser, queryset: QuerySet[LifecycleRequest] | None = None
) -> QuerySet[LifecycleRequest]:
    """The requests ``user`` may see: those with no image in an account outside what they may
    see (``amidash.scope``; deny by default, so a request spanning an account they do not see
    is hidden whole rather than shown in part)."""
    queryset = LifecycleRequest.objects.all() if queryset is None else queryset
    if sees_every_account(user):
        return queryset
    seen = Account.objects.visible_to(user).values("account_id")
    hidden = RequestItem.objects.exclude(account_id__in=seen).values("request_id")
    return queryset.exclude(pk__in=hidden)


def _check_scope(user: AbstractBaseUser, account_ids: set[str], verb: str) -> None:
    allowed = scoped_account_ids(user)
    if allowed is not None and not account_ids <= allowed:
        outside = ", ".join(sorted(account_ids - allowed))
        raise PermissionDenied(
            f"You may not {verb} for account(s) {outside}: ask an administrator for their scope."
        )


# --- parameters -------------------------------------------------------------------------------


def approvals_required(action: str) -> int:
    return max(1, settings.LIFECYCLE_APPROVALS_REQUIRED.get(action, 1))


def validate_parameters(action: str, parameters: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The action's parameters, checked by its spec against AWS's limits; JSON-ready."""
    return ACTIONS[action].clean_parameters(parameters, now)


# --- creating ---------------------------------------------------------------------------------


def compute_fingerprint(
    action: str,
    parameters: dict[str, Any],
    override: tuple[bool, str],
    items: list[dict[str, Any]],
) -> str:
    """SHA-256 over exactly what is approved: action, parameters, override, images and states."""
    payload = {
        "action": action,
        "parameters": parameters,
        "override": {"in_use": override[0], "reason": override[1]},
        "items": sorted(items, key=lambda item: (item["account_id"], item["region"], item["id"])),
    }
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def request_fingerprint(request: LifecycleRequest) -> str:
    items = [
        {"id": i.ami_id, "account_id": i.account_id, "region": i.region, "observed": i.observed}
        for i in request.items.all()
    ]
    override = (request.override_in_use, request.override_reason)
    return compute_fingerprint(request.action, request.parameters, override, items)


def selected_images(image_pks: list[int], viewer: AbstractBaseUser | None = None) -> list[Image]:
    """The images selected; with ``viewer``, one outside the accounts they may see is as
    unknown as one that does not exist."""
    if not image_pks:
        raise RequestError("Select at least one image.")
    if len(image_pks) > MAX_IMAGES_PER_REQUEST:
        raise RequestError(f"A request may name at most {MAX_IMAGES_PER_REQUEST} images.")
    found = Image.objects.visible_to(viewer) if viewer is not None else Image.objects.all()
    images = list(found.filter(pk__in=image_pks).select_related("account").order_by("pk"))
    if len(images) != len(set(image_pks)):
        raise RequestError("Some selected images do not exist.")
    return images


def images_from_filter(query_string: str, user: Any) -> tuple[list[int], dict[str, Any]]:
    """Every image among those ``user`` may see that an image-list filter matches (up to the
    request limit), and the provenance that records the filter on the request."""
    limit = MAX_IMAGES_PER_REQUEST
    try:
        pks, total = matching_image_pks(query_string, limit, user)
    except ValueError as error:
        raise RequestError(f"The filter is not valid: {error}") from None
    if total > limit:
        raise RequestError(
            f"{total:,} images match the filter; a request may name at most {limit:,}. "
            "Narrow the filter."
        )
    summary = f"All {total:,} images matching the filter {query_string or '(none)'}"
    return pks, {"kind": "filter", "filter": query_string, "matching": total, "summary": summary}


def check_draft(draft: RequestDraft, previews: list[ImagePreview]) -> None:
    """Refuse a request that may not be made (invariant 5 in docs/architecture.md; the preview's
    blocks)."""
    if draft.action not in ACTIONS:
        raise RequestError(f"Unknown action {draft.action!r}.")
    if not draft.reason.strip():
        raise RequestError("Give a reason for the request.", "reason")
    if draft.override_in_use and not draft.override_reason.strip():
        raise RequestError("An override needs its own justification.", "override_reason")
    for preview in previews:
        in_use_block = ACTIONS[draft.action].guarded and preview.needs_override
        if in_use_block and draft.override_in_use:
            continue
        if preview.blocked:
            raise RequestError(f"{preview.image_id}: {preview.blocked}.")


def create_request(actor: AbstractBaseUser, draft: RequestDraft, source: str) -> LifecycleRequest:
    """Validate, preview and save a pending request with one item per image; notify approvers."""
    if not may_request(actor):
        raise PermissionDenied("Requesting lifecycle actions needs the Requester role.")
    if draft.action not in ACTIONS:
        raise RequestError(f"Unknown action {draft.action!r}.")
    if not ACTIONS[draft.action].targets_images:
        raise RequestError(
            f"{ACTIONS[draft.action].label} names an account and Region, not images: propose it "
            "from the compliance page."
        )
    now = timezone.now()
    parameters = validate_parameters(draft.action, draft.parameters, now)
    images = selected_images(draft.image_pks)
    _check_scope(actor, {image.account.account_id for image in images}, "request actions")
    previews = preview_images(draft.action, images)
    check_draft(draft, previews)
    with transaction.atomic():
        request = _save_request(actor, draft, parameters, images, previews, now)
        announce_created(request, actor, source, draft.reason)
    return request


def announce_created(
    request: LifecycleRequest, actor: AbstractBaseUser, source: str, reason: str
) -> None:
    """The audit event of a new request and the approvers' notice (inside its transaction)."""
    record_event(
        AuditVerb.REQUEST_CREATED,
        actor=actor,
        source=source,
        target=request,
        after=request_summary(request),
        message=reason,
        correlation_id=f"request:{request.pk}",
    )
    notifications.queue_notice(notifications.WAITING, request.pk)


def _save_request(
    actor: AbstractBaseUser,
    draft: RequestDraft,
    parameters: dict[str, Any],
    images: list[Image],
    previews: list[ImagePreview],
    now: datetime,
) -> LifecycleRequest:
    request = LifecycleRequest.objects.create(
        action=draft.action,
        parameters=parameters,
        reason=draft.reason.strip(),
        ticket=draft.ticket.strip()[:128],
        override_in_use=draft.override_in_use,
        override_reason=draft.override_reason.strip() if draft.override_in_use else "",
        requester=actor,
        provenance=draft.provenance,
        approvable_from=draft.approvable_from,
        approvals_required=approvals_required(draft.action),
        created_at=now,
        expires_at=now + timedelta(days=settings.LIFECYCLE_REQUEST_EXPIRY_DAYS),
        fingerprint="",
    )
    by_pk = {preview.image_pk: preview for preview in previews}
    RequestItem.objects.bulk_create(
        [
            RequestItem(
                request=request,
                image=image,
                ami_id=image.image_id,
                account_id=image.account.account_id,
                region=image.region,
                observed=observed_state(image, by_pk[image.pk].all_usage()),
                preview=by_pk[image.pk].as_dict(),
            )
            for image in images
        ],
        batch_size=1000,
    )
    request.fingerprint = request_fingerprint(request)
    request.save(update_fields=["fingerprint"])
    return request


def request_summary(request: LifecycleRequest) -> dict[str, Any]:
    """What audit events say about a request."""
    return {
        "status": request.status,
        "action": request.action,
        "parameters": request.parameters,
        "images": request.items.count(),
        "approvals_required": request.approvals_required,
        "fingerprint": request.fingerprint,
        "override_in_use": request.override_in_use,
        "override_reason": request.override_reason,
        "ticket": request.ticket,
        "expires_at": request.expires_at,
        **({"provenance": request.provenance} if request.provenance else {}),
        **({"approvable_from": request.approvable_from} if request.approvable_from else {}),
    }


# --- deciding ---------------------------------------------------------------------------------


def _locked_pending(request_pk: int, now: datetime, source: str) -> LifecycleRequest:
    """The request, locked for this transaction, if it still waits for decisions."""
    request = (
        LifecycleRequest.objects.select_for_update()
        .select_related("requester")
        .filter(pk=request_pk)
        .first()
    )
    if request is None:
        raise RequestError(f"Request #{request_pk} does not exist.")
    if request.is_expired(now):
        raise RequestError(f"Request #{request.pk} expired on {request.expires_at:%Y-%m-%d %H:%M}.")
    if request.status != RequestStatus.PENDING:
        raise RequestError(
            f"Request #{request.pk} is {request.get_status_display().lower()}; "
            "it no longer takes decisions."
        )
    return request


def _check_decider(actor: AbstractBaseUser, request: LifecycleRequest, fingerprint: str) -> None:
    if not may_approve(actor):
        raise PermissionDenied("Deciding on requests needs the Approver role.")
    if actor.pk == request.requester_id:
        raise PermissionDenied("Nobody may approve or reject their own request.")
    accounts = set(request.items.values_list("account_id", flat=True).distinct())
    _check_scope(actor, accounts, "decide on requests")
    if Approval.objects.filter(request=request, approver=actor).exists():
        raise RequestError("You have already decided on this request.")
    if fingerprint != request.fingerprint:
        raise RequestError(
            "The request you reviewed is not the one on record (fingerprint mismatch); reload it."
        )


def _record_decision(
    request_pk: int,
    actor: AbstractBaseUser,
    decision: str,
    fingerprint: str,
    comment: str,
    now: datetime,
    source: str,
) -> LifecycleRequest:
    """Lock the pending request, check the decider and record the decision; returns the request.

    One decision per person per request; two at the same moment meet the unique constraint.
    Call inside a transaction.
    """
    request = _locked_pending(request_pk, now, source)
    _check_decider(actor, request, fingerprint)
    if decision == Decision.APPROVE and request.notice_pending(now):
        raise RequestError(
            f"Request #{request.pk} may be approved from "
            f"{request.approvable_from:%Y-%m-%d %H:%M} UTC: its images' owners were given notice "
            "until then."
        )
    try:
        with transaction.atomic():
            Approval.objects.create(
                request=request,
                approver=actor,
                decision=decision,
                comment=comment.strip(),
                fingerprint=fingerprint,
                created_at=now,
            )
    except IntegrityError as error:
        raise RequestError("You have already decided on this request.") from error
    return request


def approve_request(
    actor: AbstractBaseUser, request_pk: int, fingerprint: str, comment: str, source: str
) -> LifecycleRequest:
    """Record an approval; the last one needed approves the request and queues execution."""
    now = timezone.now()
    expire_requests(now, source, pks=[request_pk])
    with transaction.atomic():
        request = _record_decision(
            request_pk, actor, Decision.APPROVE, fingerprint, comment, now, source
        )
        count = request.approvals().count()
        final = count >= request.approvals_required
        before = {"status": request.status, "approvals": count - 1}
        if final:
            request.check_transition(RequestStatus.APPROVED)
            request.status, request.decided_at = RequestStatus.APPROVED, now
            request.save(update_fields=["status", "decided_at"])
        record_event(
            AuditVerb.REQUEST_APPROVED,
            actor=actor,
            source=source,
            target=request,
            before=before,
            after={
                "status": request.status,
                "approvals": count,
                "approvals_required": request.approvals_required,
                "fingerprint": fingerprint,
            },
            message=comment.strip(),
            correlation_id=f"request:{request.pk}",
        )
        if final:
            _queue_execution(request.pk)
            notifications.queue_notice(notifications.DECIDED, request.pk)
    return request


def _queue_execution(request_pk: int) -> None:
    from lifecycle.tasks import execute_request

    execute_request.delay_on_commit(request_pk)


def reject_request(
    actor: AbstractBaseUser, request_pk: int, fingerprint: str, comment: str, source: str
) -> LifecycleRequest:
    """Reject a pending request; one rejection ends it. A comment is required."""
    if not comment.strip():
        raise RequestError("Say why you reject the request.")
    now = timezone.now()
    expire_requests(now, source, pks=[request_pk])
    with transaction.atomic():
        request = _record_decision(
            request_pk, actor, Decision.REJECT, fingerprint, comment, now, source
        )
        _close_pending(request, RequestStatus.REJECTED, now, actor, source, message=comment)
        notifications.queue_notice(notifications.DECIDED, request.pk)
    return request


def cancel_request(
    actor: AbstractBaseUser, request_pk: int, comment: str, source: str
) -> LifecycleRequest:
    """The requester (or a superuser) withdraws a pending request."""
    now = timezone.now()
    expire_requests(now, source, pks=[request_pk])
    with transaction.atomic():
        request = _locked_pending(request_pk, now, source)
        if actor.pk != request.requester_id and not actor.is_superuser:
            raise PermissionDenied("Only the requester may cancel a request.")
        _close_pending(request, RequestStatus.CANCELLED, now, actor, source, message=comment)
    return request


#: The verb recorded when a pending request ends without running, by how it ends.
CLOSING_VERBS = {
    RequestStatus.REJECTED: AuditVerb.REQUEST_REJECTED,
    RequestStatus.CANCELLED: AuditVerb.REQUEST_CANCELLED,
    RequestStatus.EXPIRED: AuditVerb.REQUEST_EXPIRED,
}


def _close_pending(
    request: LifecycleRequest,
    status: str,
    now: datetime,
    actor: AbstractBaseUser | None,
    source: str,
    message: str = "",
    after: dict[str, Any] | None = None,
) -> None:
    """End a pending request (rejected, cancelled or expired), its pending items with it, and
    record the
    verb ``CLOSING_VERBS`` names for how it ended."""
    request.check_transition(status)
    request.status, request.decided_at, request.finished_at = status, now, now
    request.save(update_fields=["status", "decided_at", "finished_at"])
    request.items.filter(status=ItemStatus.PENDING).update(
        status=ItemStatus.CANCELLED, finished_at=now
    )
    record_event(
        CLOSING_VERBS[status],
        actor=actor,
        source=source,
        target=request,
        before={"status": RequestStatus.PENDING},
        after={"status": request.status, **(after or {})},
        message=message.strip(),
        correlation_id=f"request:{request.pk}",
    )


def _expire(request: LifecycleRequest, now: datetime, source: str) -> None:
    system_part = source if source in (AuditSource.BEAT, AuditSource.WORKER) else AuditSource.SYSTEM
    _close_pending(
        request,
        RequestStatus.EXPIRED,
        now,
        None,
        system_part,
        after={"expires_at": request.expires_at},
    )
    notifications.queue_notice(notifications.DECIDED, request.pk)


def expire_requests(
    now: datetime | None = None, source: str = AuditSource.BEAT, pks: list[int] | None = None
) -> int:
    """Expire every pending request past its expiry (or only those of ``pks``); returns how
    many. Each in its own transaction, so a refused late decision still leaves it expired."""
    now = now or timezone.now()
    expired = 0
    due = LifecycleRequest.objects.filter(status=RequestStatus.PENDING, expires_at__lte=now)
    if pks is not None:
        due = due.filter(pk__in=pks)
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            request = LifecycleRequest.objects.select_for_update().get(pk=pk)
            if request.is_expired(now):
                _expire(request, now, source)
                expired += 1
    return expired


# --- queries ----------------------------------------------------------------------------------


def awaiting_decision(user: AbstractBaseUser) -> QuerySet[LifecycleRequest]:
    """Pending requests this user may still decide on (not theirs, not decided by them)."""
    queryset = (
        LifecycleRequest.objects.filter(status=RequestStatus.PENDING, expires_at__gt=timezone.now())
        .exclude(requester=user)
        .exclude(decisions__approver=user)
    )
    allowed = scoped_account_ids(user)
    if allowed is not None:
        queryset = queryset.exclude(
            pk__in=RequestItem.objects.exclude(account_id__in=allowed).values("request_id")
        )
    return queryset


def filtered_requests(user: AbstractBaseUser, data: dict[str, Any]) -> QuerySet[LifecycleRequest]:
    """Requests matching the queue's filters (the cleaned data of ``RequestFilterForm``; empty
    for none) among those ``user`` may see, newest first, with their image and approval counts."""
    queryset = visible_requests(
        user, LifecycleRequest.objects.select_related("requester")
    ).annotate(
        image_count=Count("items", distinct=True),
        approval_count=Count("decisions", filter=Q(decisions__decision="approve"), distinct=True),
    )
    if data.get("scope") == "awaiting":
        queryset = queryset.filter(pk__in=awaiting_decision(user).values("pk"))
    elif data.get("scope") == "mine":
        queryset = queryset.filter(requester=user)
    if data.get("status"):
        queryset = queryset.filter(status=data["status"])
    if data.get("action"):
        queryset = queryset.filter(action=data["action"])
    if data.get("q"):
        term = data["q"].strip()
        match = Q(reason__icontains=term) | Q(ticket__icontains=term)
        match |= Q(items__ami_id=term) | Q(requester__username__iexact=term)
        queryset = queryset.filter(match).distinct()
    return queryset.order_by("-created_at", "-pk")
