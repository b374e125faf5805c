"""Admin: accounts are edited here; everything the sync observes is read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from inventory.models import (
    Account,
    AccountRegion,
    AllowedImagesSetting,
    ConsumerReport,
    Image,
    ImageConsumer,
    ImageUsage,
    InstanceImage,
    SyncRegionResult,
    SyncRun,
)
from inventory.services.accounts import AmbientCredentialsError, check_ambient_account


class ReadOnlyAdmin(admin.ModelAdmin):
    """What the sync observed is never edited by hand (invariant 1 in docs/architecture.md
    relies on it)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AccountRegionInline(admin.TabularInline):
    model = AccountRegion
    fields = ["region", "opt_in_status", "synced", "last_sync_at", "last_sync_status"]
    readonly_fields = ["region", "opt_in_status", "last_sync_at", "last_sync_status"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AccountForm(forms.ModelForm):
    """The model's rules (``Account.clean``), and, for an account without a role ARN, proof that
    the ambient credentials reach it (STS GetCallerIdentity)."""

    class Meta:
        model = Account
        fields = ["account_id", "name", "role_arn", "external_id", "enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        account_id = data.get("account_id")
        # Asked when an account comes to use the ambient credentials, not on every edit.
        moved = {"account_id", "role_arn"} & set(self.changed_data)
        if account_id and moved and not data.get("role_arn") and "role_arn" not in self.errors:
            try:
                check_ambient_account(account_id)
            except AmbientCredentialsError as error:
                self.add_error("role_arn", str(error))
        return data


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = ["account_id", "name", "enabled", "role_arn", "last_synced_at"]
    list_filter = ["enabled"]
    search_fields = ["account_id", "name"]
    readonly_fields = ["created_at", "last_synced_at"]
    inlines = [AccountRegionInline]


@admin.register(Image)
class ImageAdmin(ReadOnlyAdmin):
    list_display = ["image_id", "name", "account", "region", "state", "creation_date", "in_use"]
    list_filter = ["state", "in_use", "public", "region"]
    search_fields = ["image_id", "name", "family"]
    list_select_related = ["account"]
    show_full_result_count = False


@admin.register(ImageUsage)
class ImageUsageAdmin(ReadOnlyAdmin):
    list_display = ["image_ref", "usage_type", "resource_id", "account", "region", "observed_at"]
    list_filter = ["usage_type", "region"]
    search_fields = ["image_ref", "resource_id", "resource_name"]
    list_select_related = ["account"]


@admin.register(ConsumerReport)
class ConsumerReportAdmin(ReadOnlyAdmin):
    list_display = ["image", "report_id", "status", "requested_at", "requested_by", "finished_at"]
    list_filter = ["status"]
    search_fields = ["image__image_id", "report_id"]
    list_select_related = ["image"]


@admin.register(ImageConsumer)
class ImageConsumerAdmin(ReadOnlyAdmin):
    list_display = ["image", "account_id", "instances", "launch_templates", "reported_at"]
    search_fields = ["image__image_id", "account_id"]
    list_select_related = ["image"]


@admin.register(AllowedImagesSetting)
class AllowedImagesSettingAdmin(ReadOnlyAdmin):
    list_display = ["account_region", "state", "managed_by", "observed_at"]
    list_filter = ["state", "managed_by"]
    list_select_related = ["account_region__account"]


@admin.register(InstanceImage)
class InstanceImageAdmin(ReadOnlyAdmin):
    list_display = ["instance_id", "image_id", "image_name", "image_owner_id", "image_allowed"]
    list_filter = ["image_allowed", "instance_state"]
    search_fields = ["instance_id", "image_id", "image_name"]
    list_select_related = ["account_region__account"]
    show_full_result_count = False


class SyncRegionResultInline(admin.TabularInline):
    model = SyncRegionResult
    fields = ["account", "region", "status", "images_seen", "images_gone", "api_calls", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "status", "trigger", "actor_name", "created_at", "finished_at"]
    list_filter = ["status", "trigger"]
    inlines = [SyncRegionResultInline]
