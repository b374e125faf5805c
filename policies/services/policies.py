"""Creating, changing, enabling and disabling policies; each one an audit event with before
and after (the policy's document), written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from amidash.scope import sees_every_account
from lifecycle.models import AuditVerb
from lifecycle.services.audit import Actor, record_event
from policies.forms import PolicyForm
from policies.models import Policy

EDIT_PERMISSION = "policies.change_policy"
ADD_PERMISSION = "policies.add_policy"
VIEW_PERMISSION = "policies.view_policy"


def may_view(user: AbstractBaseUser | None) -> bool:
    """Reading policies and their plans needs a role that grants it and sight of every account:
    a plan spans accounts (its rows, totals and families), so a user scoped to some accounts
    reads their images on the inventory pages instead (deny by default, ``amidash.scope``)."""
    return bool(
        user
        and user.is_authenticated
        and user.has_perm(VIEW_PERMISSION)
        and sees_every_account(user)
    )


def require_view(user: AbstractBaseUser | None) -> None:
    """PermissionDenied, with the reason, unless ``user`` may read policies (pages and API)."""
    if not (user and user.is_authenticated and user.has_perm(VIEW_PERMISSION)):
        raise PermissionDenied("Reading policies needs a role.")
    if not may_view(user):
        raise PermissionDenied(
            "Policies span accounts: reading them needs access to every account. "
            "Ask an administrator."
        )


def may_edit(user: AbstractBaseUser | None) -> bool:
    """Requesters who may read policies write them (the permissions come with the Requester
    role; reading needs sight of every account, see ``may_view``)."""
    return bool(may_view(user) and user.has_perm(EDIT_PERMISSION))


def _check(actor: Actor) -> None:
    if actor is not None and not may_edit(actor):
        raise PermissionDenied("Writing policies needs the Requester role.")


def _audit(verb: str, actor: Actor, source: str, policy: Policy, before: Any, after: Any) -> None:
    record_event(
        verb,
        actor=actor,
        source=source,
        target=policy,
        before=before,
        after=after,
        correlation_id=f"policy:{policy.pk}",
    )


def save_policy(actor: Actor, form: PolicyForm, source: str) -> Policy:
    """Save a valid form (a new policy, or a change to ``form.instance``) and record it.

    A change to ``enabled`` is recorded as policy.enabled / policy.disabled, a change to anything
    else as policy.changed; a save that changes nothing records nothing. ``actor`` (None for the
    system) becomes the last editor, in whose name the policy's requests are made.
    """
    _check(actor)
    is_new = form.instance.pk is None
    before = None if is_new else Policy.objects.get(pk=form.instance.pk).document()
    with transaction.atomic():
        policy = form.save(commit=False)
        _stamp(policy, actor, is_new)
        policy.save()
        after = policy.document()
        if is_new:
            _audit(AuditVerb.POLICY_CREATED, actor, source, policy, None, after)
        else:
            _record_changes(actor, source, policy, before, after)
    return policy


def _stamp(policy: Policy, actor: Actor, is_new: bool) -> None:
    user = actor if actor is not None and actor.is_authenticated else None
    now = timezone.now()
    if is_new:
        policy.created_by, policy.created_at = user, now
    policy.updated_at = now
    if user is not None:
        policy.updated_by = user


def _record_changes(
    actor: Actor, source: str, policy: Policy, before: dict[str, Any], after: dict[str, Any]
) -> None:
    rest_before = {k: v for k, v in before.items() if k != "enabled"}
    rest_after = {k: v for k, v in after.items() if k != "enabled"}
    if rest_before != rest_after:
        _audit(AuditVerb.POLICY_CHANGED, actor, source, policy, before, after)
    if before["enabled"] != after["enabled"]:
        verb = AuditVerb.POLICY_ENABLED if after["enabled"] else AuditVerb.POLICY_DISABLED
        _audit(verb, actor, source, policy, {"enabled": before["enabled"]}, after)


def set_enabled(actor: Actor, policy_pk: int, enabled: bool, source: str) -> Policy:
    """Switch a policy on or off (the scheduler evaluates only enabled ones)."""
    _check(actor)
    with transaction.atomic():
        policy = Policy.objects.select_for_update().get(pk=policy_pk)
        if policy.enabled == enabled:
            return policy
        before = policy.document()
        policy.enabled = enabled
        _stamp(policy, actor, False)
        policy.save(update_fields=["enabled", "updated_at", "updated_by"])
        _record_changes(actor, source, policy, before, policy.document())
    return policy
