"""Admin: audit events read-only; role changes made in the user admin are audited as admin's."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from amidash.roles import role_names
from lifecycle.models import AuditEvent, AuditSource
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


class AuditedUserAdmin(_registered_user_admin):  # type: ignore[misc, valid-type]
    """The user admin, with the acting admin named on ``role.changed`` events it causes."""

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
