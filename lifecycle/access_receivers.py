"""Record every change to who may do what, with before and after (invariant 8).

Role memberships and the superuser flag are ``role.changed`` (``lifecycle/receivers.py``). Here:
permissions given to a user or a group (``permission.changed``; they confer no right outside the
role groups, but a grant is still an attempt to change rights and is kept), the staff and active
flags (``user.changed``), a password set or reset (``user.password_changed``, never the password
or its hash), account scopes with the all-accounts flag (``scope.changed``), and two-factor
devices: an authenticator confirmed (``twofactor.enrolled``), recovery codes made
(``twofactor.recovery_codes``) and either removed (``twofactor.removed``), by the enrolment page,
the admin or anything else. A device event names the user, the device's kind, name and id, never
its secret key or codes. Each receiver writes in the transaction of the change, naming the actor
of the current audit context.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from lifecycle.models import AccountAccess, AccountScope, AuditSource, AuditVerb
from lifecycle.services.audit import Target, current_context, record_event, target_of

#: User flags that change what a user may do; the superuser flag is a role (role.changed).
USER_FLAGS = ("is_staff", "is_active")


def _record(verb: str, target: Model, before: Any, after: Any, message: str) -> None:
    context = current_context()
    record_event(
        verb,
        actor=context.actor,
        source=context.source,
        target=target_of(target) if not isinstance(target, Group) else _group_target(target),
        before=before,
        after=after,
        correlation_id=context.correlation_id,
        message=message,
    )


def _group_target(group: Group) -> Target:
    return Target("group", str(group.pk), label=group.name)


# --- permissions given to a user or a group --------------------------------------------------


def _direct_permissions(owner: Model) -> list[str]:
    permissions = owner.permissions if isinstance(owner, Group) else owner.user_permissions
    rows = permissions.values_list("content_type__app_label", "codename")
    return sorted(f"{app}.{codename}" for app, codename in rows)


def _permission_owners(instance: Model, kwargs: dict[str, Any], owner_model: type) -> list[Model]:
    if not kwargs.get("reverse"):
        return [instance]
    if kwargs.get("pk_set") is None:  # permission.user_set.clear()
        return list(owner_model.objects.filter(**{_PERMISSION_FIELD[owner_model]: instance}))
    return list(owner_model.objects.filter(pk__in=kwargs["pk_set"]))


_PERMISSION_FIELD: dict[type, str] = {}


def record_permissions_change(sender: Any, *, instance: Model, action: str, **kwargs: Any) -> None:
    """permission.changed for each user or group whose own permissions an m2m edit changes."""
    owner_model = get_user_model() if sender is get_user_model().user_permissions.through else Group
    if action.startswith("pre_"):
        owners = _permission_owners(instance, kwargs, owner_model)
        instance._audit_permissions_before = {o.pk: _direct_permissions(o) for o in owners}
        return
    for pk, before in getattr(instance, "_audit_permissions_before", {}).items():
        owner = owner_model.objects.get(pk=pk)
        after = _direct_permissions(owner)
        if after != before:
            message = f"Permissions of {owner}: {', '.join(after) or 'none'}"
            before_state, after_state = {"permissions": before}, {"permissions": after}
            _record(AuditVerb.PERMISSION_CHANGED, owner, before_state, after_state, message)


# --- user flags and password ----------------------------------------------------------------


def remember_user_flags(sender: Any, *, instance: Model, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or (
        update_fields is not None and not set(update_fields) & {*USER_FLAGS}
    ):
        instance._audit_flags_before = None
        return
    instance._audit_flags_before = sender.objects.filter(pk=instance.pk).values(*USER_FLAGS).first()


def record_user_flags_change(sender: Any, *, instance: Model, created: bool, **kwargs: Any) -> None:
    """user.changed when staff or active is switched; user.password_changed on set_password."""
    before = getattr(instance, "_audit_flags_before", None)
    after = {flag: getattr(instance, flag) for flag in USER_FLAGS}
    if before is not None and before != after:
        changed = {flag: after[flag] for flag in USER_FLAGS if before[flag] != after[flag]}
        message = f"User {instance.get_username()}: " + ", ".join(
            f"{flag.removeprefix('is_')} {'on' if on else 'off'}" for flag, on in changed.items()
        )
        _record(AuditVerb.USER_CHANGED, instance, before, after, message)
    # set_password() keeps the raw password until the save ends; a hasher upgrade does not.
    if getattr(instance, "_password", None) is not None and not created:
        message = f"Password of {instance.get_username()} set"
        _record(AuditVerb.PASSWORD_CHANGED, instance, None, None, message)


# --- account scope --------------------------------------------------------------------------


def _scope_state(user: Model, *, add: str = "", remove: str = "") -> dict[str, Any]:
    access = AccountAccess.objects.filter(user_id=user.pk).values_list("all_accounts", flat=True)
    accounts = set(
        AccountScope.objects.filter(user_id=user.pk).values_list("account__account_id", flat=True)
    )
    accounts = (accounts | {add}) - {remove, ""}
    return {"all_accounts": bool(access.first()), "accounts": sorted(accounts)}


def _record_scope(user: Model, before: dict[str, Any], after: dict[str, Any]) -> None:
    if before == after:
        return
    reach = "all accounts" if after["all_accounts"] else ", ".join(after["accounts"]) or "none"
    message = f"Account scope of {user.get_username()}: {reach}"
    _record(AuditVerb.SCOPE_CHANGED, user, before, after, message)


def record_scope_added(
    sender: Any, *, instance: AccountScope, created: bool, **kwargs: Any
) -> None:
    if created:
        account_id = instance.account.account_id
        before = _scope_state(instance.user, remove=account_id)
        _record_scope(instance.user, before, _scope_state(instance.user))


def record_scope_removed(sender: Any, *, instance: AccountScope, **kwargs: Any) -> None:
    user = get_user_model().objects.filter(pk=instance.user_id).first()
    if user is None:  # the user is being deleted: nobody's rights change
        return
    before = _scope_state(user, add=instance.account.account_id)
    _record_scope(user, before, _scope_state(user))


def remember_all_accounts(sender: Any, *, instance: AccountAccess, **kwargs: Any) -> None:
    stored = sender.objects.filter(pk=instance.pk).values_list("all_accounts", flat=True).first()
    instance._audit_all_accounts_before = bool(stored)


def record_all_accounts_change(sender: Any, *, instance: AccountAccess, **kwargs: Any) -> None:
    before = _scope_state(instance.user)
    before["all_accounts"] = getattr(instance, "_audit_all_accounts_before", False)
    _record_scope(instance.user, before, _scope_state(instance.user))


# --- two-factor devices ----------------------------------------------------------------------

#: What a device event calls each kind of device.
DEVICE_KINDS: dict[type, str] = {TOTPDevice: "authenticator", StaticDevice: "recovery codes"}


def _device(device: Model) -> dict[str, Any]:
    """What identifies a device in the log: never its key, codes or counters."""
    return {"kind": DEVICE_KINDS[type(device)], "name": device.name, "device_id": device.pk}


def _device_user(device: Model) -> Model | None:
    return get_user_model().objects.filter(pk=device.user_id).first()


def _record_device(verb: str, user: Model, before: Any, after: Any, message: str) -> None:
    """Like ``_record``, but a change nobody else is named for is the owner's own: enrolment
    on the two-factor page, the one route that runs without an audit context."""
    context = current_context()
    record_event(
        verb,
        actor=context.actor or user,
        source=context.source if context.actor else AuditSource.WEB,
        target=target_of(user),
        before=before,
        after=after,
        correlation_id=context.correlation_id,
        message=message,
    )


def remember_device_confirmed(sender: Any, *, instance: Model, **kwargs: Any) -> None:
    stored = sender.objects.filter(pk=instance.pk).values_list("confirmed", flat=True).first()
    instance._audit_confirmed_before = bool(stored)


def record_device_saved(sender: Any, *, instance: Model, created: bool, **kwargs: Any) -> None:
    """An authenticator counts once confirmed (an unconfirmed one cannot sign anyone in);
    recovery codes when their device is made."""
    user = _device_user(instance)
    if user is None:
        return
    if sender is StaticDevice:
        if created:
            message = f"Recovery codes generated for {user.get_username()}"
            _record_device(
                AuditVerb.RECOVERY_CODES_GENERATED, user, None, _device(instance), message
            )
        return
    if instance.confirmed and not getattr(instance, "_audit_confirmed_before", False):
        message = f"Authenticator {instance.name!r} enrolled for {user.get_username()}"
        _record_device(AuditVerb.TWO_FACTOR_ENROLLED, user, None, _device(instance), message)


def record_device_removed(sender: Any, *, instance: Model, **kwargs: Any) -> None:
    """A confirmed device removed, by any route; an abandoned enrolment is not a device."""
    user = _device_user(instance)
    if user is None or (sender is TOTPDevice and not instance.confirmed):
        return
    kind = DEVICE_KINDS[sender]
    message = f"{kind.capitalize()} {instance.name!r} of {user.get_username()} removed"
    _record_device(AuditVerb.TWO_FACTOR_REMOVED, user, _device(instance), None, message)


def connect() -> None:
    """Connect the receivers (idempotent: each has a dispatch_uid)."""
    user_model = get_user_model()
    _PERMISSION_FIELD.update({user_model: "user_permissions", Group: "permissions"})
    for through, name in (
        (user_model.user_permissions.through, "user"),
        (Group.permissions.through, "group"),
    ):
        m2m_changed.connect(
            record_permissions_change, sender=through, dispatch_uid=f"audit-{name}-permissions"
        )
    pre_save.connect(remember_user_flags, sender=user_model, dispatch_uid="audit-flags-pre")
    post_save.connect(record_user_flags_change, sender=user_model, dispatch_uid="audit-flags-post")
    post_save.connect(record_scope_added, sender=AccountScope, dispatch_uid="audit-scope-post")
    post_delete.connect(record_scope_removed, sender=AccountScope, dispatch_uid="audit-scope-del")
    pre_save.connect(remember_all_accounts, sender=AccountAccess, dispatch_uid="audit-access-pre")
    post_save.connect(
        record_all_accounts_change, sender=AccountAccess, dispatch_uid="audit-access-post"
    )
    pre_save.connect(remember_device_confirmed, sender=TOTPDevice, dispatch_uid="audit-totp-pre")
    for device_model in DEVICE_KINDS:
        name = device_model.__name__.lower()
        post_save.connect(
            record_device_saved, sender=device_model, dispatch_uid=f"audit-{name}-post"
        )
        post_delete.connect(
            record_device_removed, sender=device_model, dispatch_uid=f"audit-{name}-del"
        )
