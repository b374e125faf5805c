"""Requesting an Allowed AMIs change for one account+Region (the ``allowed_images`` action).

The request is an ordinary lifecycle request with one item that names the account+Region
instead of an image: approved by somebody else (four eyes), executed by a worker with the same
claim, lease and pacing as every action, and audited the same way. Refused here, by any route:
no Requester role, an account outside the requester's scope, a setting not read yet, one managed
by a declarative policy (the account cannot change it), criteria AWS would refuse, or no change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from inventory.models import AccountRegion, AllowedImagesSetting
from lifecycle.actions import ACTIONS
from lifecycle.actions.allowed_images import POLICY_MANAGED
from lifecycle.choices import LifecycleAction
from lifecycle.exceptions import RequestError
from lifecycle.models import LifecycleRequest, RequestItem
from lifecycle.services.requests import (
    _check_scope,
    announce_created,
    approvals_required,
    may_request,
    request_fingerprint,
)

ACTION = LifecycleAction.ALLOWED_IMAGES


def current_setting(actor: AbstractBaseUser, account_region_pk: Any) -> AllowedImagesSetting:
    """The stored setting of an account+Region the actor may see (unknown otherwise)."""
    setting = (
        AllowedImagesSetting.objects.filter(
            account_region__in=AccountRegion.objects.visible_to(actor),
            account_region_id=account_region_pk,
        )
        .select_related("account_region__account")
        .first()
    )
    if setting is None:
        raise RequestError(
            "Unknown account and Region, or its Allowed AMIs have not been read yet (sync it)."
        )
    return setting


def observed_setting(setting: AllowedImagesSetting) -> dict[str, Any]:
    return {"state": setting.state, "criteria": setting.criteria, "managed_by": setting.managed_by}


def request_allowed_images_change(
    actor: AbstractBaseUser,
    account_region_pk: Any,
    parameters: dict[str, Any],
    reason: str,
    source: str,
    ticket: str = "",
) -> LifecycleRequest:
    """Validate and save a pending request to change one account+Region's Allowed AMIs."""
    if not may_request(actor):
        raise PermissionDenied("Requesting lifecycle actions needs the Requester role.")
    setting = current_setting(actor, account_region_pk)
    account_region = setting.account_region
    _check_scope(actor, {account_region.account.account_id}, "request actions")
    if setting.is_policy_managed:
        raise RequestError(f"{POLICY_MANAGED}.")
    cleaned = ACTIONS[ACTION].clean_parameters(parameters, timezone.now())
    observed = observed_setting(setting)
    if cleaned == {"state": observed["state"], "criteria": observed["criteria"]}:
        raise RequestError("That is the current setting: the request would change nothing.")
    if not reason.strip():
        raise RequestError("Give a reason for the request.", "reason")
    with transaction.atomic():
        request = _save(actor, account_region, observed, cleaned, reason, ticket)
        announce_created(request, actor, source, reason.strip())
    return request


def _save(
    actor: AbstractBaseUser,
    account_region: AccountRegion,
    observed: dict[str, Any],
    parameters: dict[str, Any],
    reason: str,
    ticket: str,
) -> LifecycleRequest:
    now = timezone.now()
    request = LifecycleRequest.objects.create(
        action=ACTION,
        parameters=parameters,
        reason=reason.strip(),
        ticket=ticket.strip()[:128],
        requester=actor,
        provenance={"kind": "allowed_images", "summary": f"Allowed AMIs of {account_region}"},
        approvals_required=approvals_required(ACTION),
        created_at=now,
        expires_at=now + timedelta(days=settings.LIFECYCLE_REQUEST_EXPIRY_DAYS),
        fingerprint="",
    )
    RequestItem.objects.create(
        request=request,
        image=None,
        ami_id="",
        account_id=account_region.account.account_id,
        region=account_region.region,
        observed=observed,
    )
    request.fingerprint = request_fingerprint(request)
    request.save(update_fields=["fingerprint"])
    return request
