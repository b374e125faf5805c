"""Admin: audit events read-only; role and account changes made here are audited as the admin's."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from amidash.roles import role_names
from inventory.models import Account
from lifecycle.models import AccountAccess, AccountScope, AuditEvent, AuditSource
from lifecycle.receivers import record_role_change
from lifecycle.services.audit import audit_context


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Auditors browse events here too; nobody can add, change or delete one."""

    list_display = (
        "sequence",
        "occurred_at",
        "actor_name",
        "source",
        "verb",
        "target_type",
        "target_id",
        "target_account",
        "target_region",
    )
    list_filter = ("source", "actor_type", "target_type")
    search_fields = ("verb", "actor_name", "target_id", "target_repr", "correlation_id")
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


User = get_user_model()
_registered_user_admin = (
    admin.site._registry.get(User).__class__ if admin.site.is_registered(User) else UserAdmin
)


class AuditedAdminMixin:
    """Names the acting admin on the audit events a change made in these admin views causes."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        with audit_context(actor=request.user, source=AuditSource.ADMIN):
            return super().changeform_view(request, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        with audit_context(actor=request.user, source=AuditSource.ADMIN):
            return super().delete_view(request, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        with audit_context(actor=request.user, source=AuditSource.ADMIN):  # bulk delete
            return super().changelist_view(request, *args, **kwargs)


#: What the user form says beside the permission fields (invariant 8 in docs/architecture.md).
RIGHTS_FROM_ROLES_HELP = {
    "user_permissions": "Permissions given here confer no right in amidash: rights come from "
    "the role groups (Viewer, Requester, Approver, Auditor) and the superuser flag only.",
    "groups": "Only the role groups (Viewer, Requester, Approver, Auditor) confer rights; "
    "permissions of any other group are ignored.",
}


class AccountAccessInline(admin.StackedInline):
    model = AccountAccess
    can_delete = False
    verbose_name_plural = "all accounts"


class AccountScopeInline(admin.TabularInline):
    model = AccountScope
    extra = 0
    verbose_name_plural = "account scopes (the accounts this user may see and act on)"


class AuditedUserAdmin(AuditedAdminMixin, _registered_user_admin):  # type: ignore[misc, valid-type]
    """The user admin, with the acting admin named on ``role.changed`` events it causes, the
    rights-from-roles rule beside the permission fields, and the user's account scope."""

    inlines = [AccountAccessInline, AccountScopeInline]

    def user_change_password(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        with audit_context(actor=request.user, source=AuditSource.ADMIN):
            return super().user_change_password(request, *args, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and db_field.name in RIGHTS_FROM_ROLES_HELP:
            field.help_text = RIGHTS_FROM_ROLES_HELP[db_field.name]
        return field

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = User.objects.filter(pk=obj.pk).first() if change else None
        obj._audit_roles_before = sorted(role_names(stored)) if stored else ["No role"]
        with audit_context(actor=request.user, source=AuditSource.ADMIN, defer_role_changes=True):
            super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Record one role.changed for the whole edit (superuser flag and groups together)."""
        with audit_context(actor=request.user, source=AuditSource.ADMIN, defer_role_changes=True):
            super().save_related(request, form, formsets, change)
        user = form.instance
        with audit_context(actor=request.user, source=AuditSource.ADMIN):
            before = getattr(user, "_audit_roles_before", ["No role"])
            record_role_change(user, before, sorted(role_names(user)))


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)


class AuditedAccountAdmin(AuditedAdminMixin, admin.site._registry[Account].__class__):  # type: ignore[misc]
    """The account admin, with the acting admin named on the account events it causes."""


class AuditedGroupAdmin(AuditedAdminMixin, admin.site._registry[Group].__class__):  # type: ignore[misc]
    """The group admin: permission changes it makes are recorded as the admin's."""


admin.site.unregister(Account)
admin.site.register(Account, AuditedAccountAdmin)
admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)


# --- lifecycle requests: read-only; decisions are made on the request page only --------------

from lifecycle.models import Approval, LifecycleRequest, RequestItem  # noqa: E402


class RequestItemInline(admin.TabularInline):
    model = RequestItem
    extra = 0
    can_delete = False
    fields = ("ami_id", "account_id", "region", "status", "error", "finished_at")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ApprovalInline(admin.TabularInline):
    model = Approval
    extra = 0
    can_delete = False
    fields = ("approver", "decision", "comment", "fingerprint", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LifecycleRequest)
class LifecycleRequestAdmin(admin.ModelAdmin):
    """Requests are only read here: approving or rejecting happens on the request page alone,
    where the approver sees the blast radius and confirms a recent sign-in."""

    list_display = ("pk", "action", "requester", "status", "approvals_required", "created_at")
    list_filter = ("status", "action")
    search_fields = ("reason", "ticket", "items__ami_id", "requester__username")
    readonly_fields = [field.name for field in LifecycleRequest._meta.fields]
    inlines = [RequestItemInline, ApprovalInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Deleting through the bulk action would bypass has_delete_permission's intent.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(AccountScope)
class AccountScopeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The accounts a user may see and act on; none without the user's all-accounts flag."""

    list_display = ("user", "account")
    list_filter = ("account",)
    search_fields = ("user__username", "account__account_id", "account__name")


def _audit_device_admins() -> None:
    """The two-factor device admins of django-otp, with the acting admin named on the
    ``twofactor.*`` events an enrolment or removal made there causes."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for device_model in (TOTPDevice, StaticDevice):
        if not admin.site.is_registered(device_model):
            continue
        registered = admin.site._registry[device_model].__class__
        admin.site.unregister(device_model)
        audited = type(f"Audited{registered.__name__}", (AuditedAdminMixin, registered), {})
        admin.site.register(device_model, audited)


_audit_device_admins()
