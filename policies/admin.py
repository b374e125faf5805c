"""Policies in the admin: read-only, for the record (changes go through the pages or YAML,
which audit them)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from policies.models import Policy, PolicyPlan


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ["name", "enabled", "updated_by", "updated_at"]
    search_fields = ["name", "description"]


@admin.register(PolicyPlan)
class PolicyPlanAdmin(ReadOnlyAdmin):
    list_display = ["pk", "policy", "evaluated_at", "source", "proposed_at"]
    list_filter = ["source"]
