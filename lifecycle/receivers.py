"""Record what other parts announce: inventory observations, sign-ins, role and account changes.

Connected in ``LifecycleConfig.ready``. Each receiver writes through ``record_event`` inside the
transaction of the code that sent the signal, so the event commits or rolls back with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest

from amidash.roles import Role, role_names
from amidash.signin import client_ip
from inventory import signals as inventory_signals
from inventory.models import Account, AccountRegion
from inventory.signals import ImageObservation
from lifecycle import access_receivers
from lifecycle.models import AuditSource, AuditVerb
from lifecycle.services.audit import (
    EventDraft,
    Target,
    current_context,
    record_event,
    record_events,
    target_of,
)

_IMAGE_SIGNALS = {
    inventory_signals.image_appeared: AuditVerb.IMAGE_APPEARED,
    inventory_signals.image_state_changed: AuditVerb.IMAGE_STATE_CHANGED,
    inventory_signals.image_deprecation_changed: AuditVerb.IMAGE_DEPRECATION_CHANGED,
    inventory_signals.image_sharing_changed: AuditVerb.IMAGE_SHARING_CHANGED,
    inventory_signals.image_gone: AuditVerb.IMAGE_GONE,
}
_SYNC_RUN_FIELDS = (
    "status",
    "trigger",
    "account_ids",
    "regions",
    "started_at",
    "finished_at",
    "regions_total",
    "regions_succeeded",
    "regions_failed",
    "regions_skipped",
    "images_seen",
    "images_created",
    "images_changed",
    "images_gone",
    "error",
)


def _source(value: str | None) -> str:
    return value if value in AuditSource.values else AuditSource.SYSTEM


def _sync_correlation(sync_run: Any) -> str:
    return f"sync:{sync_run.pk}" if sync_run is not None else ""


def record_image_observations(
    sender: Any, *, observations: list[ImageObservation], **kwargs: Any
) -> None:
    """What inventory observed of images (a sync of one account+Region, a worker's re-read): one
    event per observation, written at once."""
    source = _source(kwargs.get("source"))
    correlation_id = _sync_correlation(kwargs.get("sync_run"))
    record_events(
        EventDraft(
            verb=_IMAGE_SIGNALS[item.signal],
            actor=kwargs.get("actor"),
            source=source,
            target=Target("image", item.image_id, item.account_id, item.region, item.name),
            before=_observed(item, item.before),
            after=_observed(item, item.after),
            correlation_id=correlation_id,
        )
        for item in observations
    )
    if source == AuditSource.SYNC and kwargs.get("sync_run") is None:
        # The paced launch-permission pass: no run finishes to queue the look-up.
        from lifecycle.tasks import look_up_cloudtrail

        look_up_cloudtrail.delay_on_commit()


def _observed(item: ImageObservation, image: Any) -> dict[str, Any] | None:
    """An observation's before / after; a sharing change also says who it is shared with."""
    if image is None:
        return None
    if item.signal is inventory_signals.image_sharing_changed:
        return image.to_sharing()
    return image.to_dict()


def look_up_cloudtrail_after_sync(sender: Any, *, sync_run: Any, **kwargs: Any) -> None:
    """Queue a CloudTrail pass when the sync's transaction commits, if it observed changes."""
    from lifecycle.services.cloudtrail import pending_observations
    from lifecycle.tasks import look_up_cloudtrail

    if pending_observations().filter(correlation_id=_sync_correlation(sync_run)).exists():
        look_up_cloudtrail.delay_on_commit()


def record_consumers_reported(
    sender: Any, *, image: Any, report: Any, before: list[str], after: list[str], **kwargs: Any
) -> None:
    """A usage report someone asked for, or one that changed who else uses the image."""
    actor_name = kwargs.get("actor_name", "")
    if not actor_name and sorted(before) == sorted(after):
        return
    # The report is collected by a worker on behalf of whoever asked (by username).
    actor = get_user_model().objects.filter(username=actor_name).first() if actor_name else None
    record_event(
        AuditVerb.IMAGE_CONSUMERS_REPORTED,
        actor=actor,
        actor_name=actor_name,
        source=AuditSource.WORKER if actor_name else AuditSource.BEAT,
        target=image,
        before={"consumers": sorted(before)},
        after={"consumers": sorted(after), "report_id": report.report_id},
        message=f"Usage report of {image.image_id}: {len(after)} other account(s) use it",
    )


def record_sync_finished(sender: Any, *, sync_run: Any, **kwargs: Any) -> None:
    summary = {name: getattr(sync_run, name, None) for name in _SYNC_RUN_FIELDS}
    record_event(
        AuditVerb.SYNC_FINISHED,
        actor=kwargs.get("actor"),
        source=_source(kwargs.get("source")),
        target=sync_run,
        after=summary,
        message=f"Sync #{sync_run.pk} finished: {summary['status']}",
        correlation_id=_sync_correlation(sync_run),
    )


def _request_source(request: HttpRequest | None) -> str:
    if request is None:
        return current_context().source
    return AuditSource.ADMIN if request.path.startswith("/admin/") else AuditSource.WEB


def _client(request: HttpRequest | None) -> dict[str, str]:
    if request is None:
        return {}
    return {
        "ip": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200],
    }


def record_login(sender: Any, *, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record_event(
        AuditVerb.AUTH_LOGIN,
        actor=user,
        source=_request_source(request),
        target=user,
        after=_client(request),
    )


def record_logout(sender: Any, *, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None:  # the session had expired: nobody to name
        return
    record_event(AuditVerb.AUTH_LOGOUT, actor=user, source=_request_source(request), target=user)


def record_login_failed(
    sender: Any, *, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """A failed sign-in; credentials arrive cleansed (no password), the name is kept.

    At most ``AUDIT_FAILED_SIGNINS_PER_PERIOD`` per user name and address per lockout period:
    guessing is stopped by the lockout (recorded once) and must not flood the log.
    """
    username = str(credentials.get(get_user_model().USERNAME_FIELD, ""))[:150]
    failures = _failures_this_period(request)
    if failures is not None and failures > settings.AUDIT_FAILED_SIGNINS_PER_PERIOD:
        return
    _record_anonymous_sign_in(
        AuditVerb.AUTH_LOGIN_FAILED, username, request, f"Sign-in failed for {username!r}"
    )


def _record_anonymous_sign_in(
    verb: str, username: str, request: HttpRequest | None, message: str
) -> None:
    """A sign-in event nobody is signed in for: the user name tried and the client."""
    record_event(
        verb,
        actor=AnonymousUser(),
        source=_request_source(request),
        target=Target("user", label=username),
        after={"username": username, **_client(request)},
        message=message,
    )


def _failures_this_period(request: HttpRequest | None) -> int | None:
    """Failed sign-ins of this user name or address in the lockout period, as django-axes counted
    them just before (its receiver runs first); None when it did not count this one."""
    return getattr(request, "axes_failures_since_start", None)


def record_lockout(
    sender: Any, *, request: HttpRequest | None, username: str | None, **kwargs: Any
) -> None:
    """auth.locked_out, once per lockout: when the failures reach the limit, not on each attempt
    made while locked."""
    if _failures_this_period(request) != settings.AXES_FAILURE_LIMIT:
        return
    username = (username or "")[:150]
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = f"Sign-in locked for {username!r} for {minutes} minutes after repeated failures"
    _record_anonymous_sign_in(AuditVerb.AUTH_LOCKED_OUT, username, request, message)


def record_role_change(user: Any, before: list[str], after: list[str]) -> None:
    """role.changed for ``user``, by the actor of the current audit context."""
    context = current_context()
    if before == after or context.defer_role_changes:
        return
    record_event(
        AuditVerb.ROLE_CHANGED,
        actor=context.actor,
        source=context.source,
        target=target_of(user),
        before={"roles": before},
        after={"roles": after},
        correlation_id=context.correlation_id,
        message=f"Roles of {user.get_username()}: {', '.join(after)}",
    )


def _roles_with(user: Any, group_names: set[str], *, added: bool) -> list[str]:
    """The user's role names with ``group_names`` added back or taken out (the other side)."""
    current = set(role_names(user))
    if current == {"No role"}:
        current = set()
    changed = current | group_names if added else current - group_names
    return sorted(changed) or ["No role"]


def record_group_membership(sender: Any, *, instance: Any, action: str, **kwargs: Any) -> None:
    """role.changed when users are added to or removed from role groups (either side)."""
    user_model = get_user_model()
    reverse, pk_set = kwargs.get("reverse"), kwargs.get("pk_set") or set()
    if action == "pre_clear":
        users = [instance] if not reverse else list(instance.user_set.all())
        instance._audit_roles_before = {u.pk: sorted(role_names(u)) for u in users}
        return
    if action == "post_clear":
        for user_pk, before in getattr(instance, "_audit_roles_before", {}).items():
            user = instance if not reverse else user_model.objects.get(pk=user_pk)
            record_role_change(user, before, sorted(role_names(user)))
        return
    if action not in {"post_add", "post_remove"}:
        return
    if reverse:  # group.user_set.add(users)
        names = {instance.name} & set(Role.values)
        pairs = [(user, names) for user in user_model.objects.filter(pk__in=pk_set)]
    else:
        groups = Group.objects.filter(pk__in=pk_set, name__in=Role.values)
        pairs = [(instance, set(groups.values_list("name", flat=True)))]
    for user, names in pairs:
        after = sorted(role_names(user))
        before = _roles_with(user, names, added=action == "post_remove")
        record_role_change(user, before, after)


def _stored(sender: Any, instance: Any, field: str, update_fields: Any) -> Any:
    """``field`` as the database holds it before this save; None if the save cannot change it."""
    if instance.pk is None or (update_fields is not None and field not in update_fields):
        return None
    return sender.objects.filter(pk=instance.pk).values_list(field, flat=True).first()


def remember_superuser_flag(sender: Any, *, instance: Any, **kwargs: Any) -> None:
    was = _stored(sender, instance, "is_superuser", kwargs.get("update_fields"))
    instance._audit_was_superuser = was


def record_superuser_change(sender: Any, *, instance: Any, created: bool, **kwargs: Any) -> None:
    """Superusers are the Admin role: granting or removing it is a role change."""
    was = getattr(instance, "_audit_was_superuser", None)
    if created and instance.is_superuser:
        was = False
    if was is None or was == instance.is_superuser:
        return
    after = sorted(role_names(instance))
    before = _roles_with(instance, {"Admin"}, added=not instance.is_superuser)
    record_role_change(instance, before, after)


# --- accounts: which accounts and Regions are governed, and through which role ---------------

#: Account fields whose changes are recorded; the external id is recorded by its digest.
_ACCOUNT_FIELDS = ("account_id", "name", "role_arn", "enabled")


def _account_state(account: Any) -> dict[str, Any]:
    state = {name: getattr(account, name) for name in _ACCOUNT_FIELDS}
    external = account.external_id
    state["external_id"] = (
        f"sha256:{hashlib.sha256(external.encode()).hexdigest()[:16]}" if external else ""
    )
    return state


def remember_account(sender: Any, *, instance: Any, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and not set(update_fields) & {*_ACCOUNT_FIELDS, "external_id"}:
        instance._audit_account_before = False  # e.g. last_synced_at: nothing recorded changes
        return
    stored = sender.objects.filter(pk=instance.pk).first() if instance.pk else None
    instance._audit_account_before = _account_state(stored) if stored else None


def record_account_saved(sender: Any, *, instance: Any, created: bool, **kwargs: Any) -> None:
    """account.added or account.changed, by the actor of the current audit context."""
    before = getattr(instance, "_audit_account_before", None)
    if before is False:
        return
    after = _account_state(instance)
    if created or before is None:
        verb, before, message = AuditVerb.ACCOUNT_ADDED, None, f"Account {instance} added"
    elif before == after:
        return
    else:
        verb, message = AuditVerb.ACCOUNT_CHANGED, f"Account {instance} changed"
    _record_account_event(verb, instance, before, after, message)


def record_account_removed(sender: Any, *, instance: Any, **kwargs: Any) -> None:
    message = f"Account {instance} removed"
    _record_account_event(
        AuditVerb.ACCOUNT_REMOVED, instance, _account_state(instance), None, message
    )


def remember_region_sync(sender: Any, *, instance: Any, **kwargs: Any) -> None:
    stored = _stored(sender, instance, "synced", kwargs.get("update_fields"))
    instance._audit_synced_before = stored


def record_region_sync_change(sender: Any, *, instance: Any, created: bool, **kwargs: Any) -> None:
    """account.changed when a Region's sync is switched on or off."""
    before = getattr(instance, "_audit_synced_before", None)
    if created or before is None or before == instance.synced:
        return
    account, region = instance.account, instance.region
    switched = "on" if instance.synced else "off"
    _record_account_event(
        AuditVerb.ACCOUNT_CHANGED,
        account,
        {"synced": {region: before}},
        {"synced": {region: instance.synced}},
        f"Sync of {account} in {region} switched {switched}",
        region=region,
    )


def _record_account_event(
    verb: str,
    account: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    message: str,
    region: str = "",
) -> None:
    context = current_context()
    record_event(
        verb,
        actor=context.actor,
        source=context.source,
        target=replace(target_of(account), region=region),
        before=before,
        after=after,
        correlation_id=context.correlation_id,
        message=message,
    )


def connect() -> None:
    """Connect every receiver (idempotent: each has a dispatch_uid)."""
    access_receivers.connect()
    inventory_signals.images_observed.connect(
        record_image_observations, dispatch_uid="audit-observations"
    )
    inventory_signals.sync_finished.connect(record_sync_finished, dispatch_uid="audit-sync")
    inventory_signals.consumers_reported.connect(
        record_consumers_reported, dispatch_uid="audit-consumers"
    )
    inventory_signals.sync_finished.connect(
        look_up_cloudtrail_after_sync, dispatch_uid="audit-cloudtrail"
    )
    user_logged_in.connect(record_login, dispatch_uid="audit-login")
    user_logged_out.connect(record_logout, dispatch_uid="audit-logout")
    user_login_failed.connect(record_login_failed, dispatch_uid="audit-login-failed")
    user_locked_out.connect(record_lockout, dispatch_uid="audit-locked-out")
    user_model = get_user_model()
    m2m_changed.connect(
        record_group_membership, sender=user_model.groups.through, dispatch_uid="audit-roles"
    )
    pre_save.connect(remember_superuser_flag, sender=user_model, dispatch_uid="audit-su-pre")
    post_save.connect(record_superuser_change, sender=user_model, dispatch_uid="audit-su-post")
    pre_save.connect(remember_account, sender=Account, dispatch_uid="audit-account-pre")
    post_save.connect(record_account_saved, sender=Account, dispatch_uid="audit-account-post")
    post_delete.connect(record_account_removed, sender=Account, dispatch_uid="audit-account-del")
    pre_save.connect(remember_region_sync, sender=AccountRegion, dispatch_uid="audit-region-pre")
    post_save.connect(
        record_region_sync_change, sender=AccountRegion, dispatch_uid="audit-region-post"
    )
