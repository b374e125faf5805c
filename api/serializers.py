"""The shapes the API answers with and accepts.

Image records are ``inventory.exports.image_record``, the export's own record, so the API and
``export_inventory`` say the same about every image; the serializers here describe them for the
schema. Input serializers only parse: the services check the rules.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from api.models import ApiToken
from inventory.choices import FindingsStatus
from lifecycle.actions import action_choices
from lifecycle.models import Approval, AuditEvent, LifecycleRequest, RequestItem
from policies.models import PlanEntry, Policy, PolicyPlan

# --- images -------------------------------------------------------------------------------------


class UsageRefSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.CharField()


class ImageRefSerializer(serializers.Serializer):
    """Which image, where, and its state: what an image record and the deploy gate share."""

    image_id = serializers.CharField()
    account_id = serializers.CharField()
    region = serializers.CharField()
    state = serializers.CharField()


class ExposureSerializer(serializers.Serializer):
    """Who besides its owner may launch an image."""

    public = serializers.BooleanField()
    shared_with = serializers.ListField(child=serializers.CharField())


class ImageSerializer(ImageRefSerializer, ExposureSerializer):
    """One image, as ``export_inventory`` writes it."""

    name = serializers.CharField(allow_blank=True)
    creation_date = serializers.DateTimeField(allow_null=True)
    age_days = serializers.IntegerField(allow_null=True)
    deprecation_time = serializers.DateTimeField(allow_null=True)
    last_launched_time = serializers.DateTimeField(allow_null=True)
    in_use = serializers.BooleanField()
    usage = UsageRefSerializer(many=True)
    usage_unknown = serializers.BooleanField(
        help_text="Public or shared without a recent AMI usage report: other accounts may use "
        "it unseen."
    )
    storage_gib = serializers.IntegerField()
    monthly_cost_usd = serializers.CharField()
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True))
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    gone_at = serializers.DateTimeField(allow_null=True)
    family = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    architecture = serializers.CharField(allow_blank=True)
    platform = serializers.CharField(allow_blank=True)
    source_image_id = serializers.CharField(allow_blank=True)
    source_image_region = serializers.CharField(allow_blank=True)
    deregistration_protection = serializers.CharField(allow_blank=True)


class UsageSerializer(UsageRefSerializer):
    name = serializers.CharField(allow_blank=True)
    account_id = serializers.CharField()
    region = serializers.CharField()
    detail = serializers.JSONField()
    observed_at = serializers.DateTimeField()


class LaunchPermissionsSerializer(ExposureSerializer):
    checked_at = serializers.DateTimeField(allow_null=True)


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "sequence", "occurred_at", "actor", "actor_type", "actor_name", "source",
            "correlation_id", "verb", "target_type", "target_id", "target_account",
            "target_region", "target_repr", "before", "after", "message", "previous_hash", "hash",
        ]  # fmt: skip


class FindingsSerializer(serializers.Serializer):
    """Inspector findings by severity; ``not_scanned`` (or never read) counts are unknown."""

    status = serializers.ChoiceField(choices=[*FindingsStatus.values, "not_read"])
    reason = serializers.CharField(allow_blank=True)
    counts = serializers.DictField(child=serializers.IntegerField(), allow_null=True)
    checked_at = serializers.DateTimeField(allow_null=True)


class ConsumerSerializer(serializers.Serializer):
    """An account outside the synced ones that uses the image, per its latest usage report."""

    account_id = serializers.CharField()
    instances = serializers.IntegerField()
    launch_templates = serializers.IntegerField()
    reported_at = serializers.DateTimeField()


class AncestorSerializer(serializers.Serializer):
    image_id = serializers.CharField()
    region = serializers.CharField(allow_blank=True)


class ImageDetailSerializer(ImageSerializer):
    """An image with what uses it (in the synced accounts, and in others per its latest AMI
    usage report), who may launch it, its snapshots, its ancestors (parent first), its Inspector
    findings and its recent history."""

    usages = UsageSerializer(many=True)
    consumers = ConsumerSerializer(many=True)
    consumers_reported_at = serializers.DateTimeField(allow_null=True)
    ancestors = AncestorSerializer(many=True)
    findings = FindingsSerializer()
    launch_permissions = LaunchPermissionsSerializer()
    snapshots = serializers.ListField(child=serializers.DictField())
    history = AuditEventSerializer(many=True)


class PendingRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class ImageStatusSerializer(ImageRefSerializer):
    """The deploy gate's answer: may this image be launched, and what is pending on it."""

    bucket = serializers.CharField()
    deprecated = serializers.BooleanField()
    deprecation_time = serializers.DateTimeField(allow_null=True)
    disabled = serializers.BooleanField()
    gone = serializers.BooleanField()
    in_use = serializers.BooleanField()
    usage_count = serializers.IntegerField()
    allowed = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    pending_requests = PendingRequestSerializer(many=True)


# --- accounts and syncs -------------------------------------------------------------------------


class AccountRegionSerializer(serializers.Serializer):
    region = serializers.CharField()
    opt_in_status = serializers.CharField()
    synced = serializers.BooleanField()
    last_listed_at = serializers.DateTimeField(allow_null=True)


class AccountSerializer(serializers.Serializer):
    account_id = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    enabled = serializers.BooleanField()
    image_count = serializers.IntegerField()
    regions = AccountRegionSerializer(many=True)


class SyncOutcomeSerializer(serializers.Serializer):
    """How a sync run, or one account+Region of it, went: what a run and its results share."""

    status = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    images_seen = serializers.IntegerField()
    images_created = serializers.IntegerField()
    images_changed = serializers.IntegerField()
    images_gone = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)


class SyncResultSerializer(SyncOutcomeSerializer):
    account_id = serializers.CharField(source="account.account_id")
    region = serializers.CharField()


class SyncRunSerializer(SyncOutcomeSerializer):
    id = serializers.IntegerField()
    trigger = serializers.CharField()
    actor_name = serializers.CharField(allow_blank=True)
    account_ids = serializers.ListField(child=serializers.CharField())
    regions = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    regions_total = serializers.IntegerField()
    regions_succeeded = serializers.IntegerField()
    regions_failed = serializers.IntegerField()
    regions_skipped = serializers.IntegerField()


class SyncRunDetailSerializer(SyncRunSerializer):
    results = SyncResultSerializer(many=True)


class ScopeSerializer(serializers.Serializer):
    """An account id and a Region, both optional, with the lengths AWS gives them."""

    account = serializers.CharField(required=False, allow_blank=True, max_length=12)
    region = serializers.CharField(required=False, allow_blank=True, max_length=32)


class SyncStartSerializer(ScopeSerializer):
    """Narrow a sync to one account and/or Region (both empty: everything enabled)."""


# --- lifecycle requests -------------------------------------------------------------------------


class RequestSerializer(serializers.ModelSerializer):
    requester = serializers.CharField(source="requester.get_username")

    class Meta:
        model = LifecycleRequest
        fields = [
            "id", "action", "status", "parameters", "reason", "ticket", "override_in_use",
            "override_reason", "requester", "approvals_required", "fingerprint", "provenance",
            "approvable_from", "created_at", "expires_at", "decided_at", "started_at",
            "finished_at",
        ]  # fmt: skip


class RequestItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = RequestItem
        fields = [
            "ami_id", "account_id", "region", "observed", "preview", "status", "attempts",
            "finished_at", "response", "error",
        ]  # fmt: skip


class DecisionSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.get_username")

    class Meta:
        model = Approval
        fields = ["approver", "decision", "comment", "fingerprint", "created_at"]


class RequestDetailSerializer(RequestSerializer):
    items = RequestItemSerializer(many=True)
    decisions = DecisionSerializer(many=True)

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "items", "decisions"]


class RequestCreateSerializer(serializers.Serializer):
    """A new request: images by AMI id, or every image an image-list filter matches."""

    action = serializers.ChoiceField(choices=action_choices())
    images = serializers.ListField(
        child=serializers.RegexField(r"^ami-[0-9a-f]{8,17}$", max_length=21),
        required=False,
        max_length=5000,
    )
    filter = serializers.CharField(
        required=False, max_length=2000, help_text="An image list query string: state=available"
    )
    reason = serializers.CharField(max_length=4000)
    ticket = serializers.CharField(required=False, allow_blank=True, max_length=128, default="")
    parameters = serializers.DictField(required=False, default=dict)
    override_in_use = serializers.BooleanField(required=False, default=False)
    override_reason = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, default=""
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("images" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"images": ["Give either images or filter."]})
        return attrs


class DecisionInputSerializer(serializers.Serializer):
    fingerprint = serializers.CharField(max_length=64)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class AuditExportSerializer(ScopeSerializer):
    """The format and the audit log's filters (as on the Audit page)."""

    format = serializers.ChoiceField(choices=["jsonl", "csv"])
    since = serializers.CharField(required=False, allow_blank=True, max_length=40)
    until = serializers.CharField(required=False, allow_blank=True, max_length=40)
    verb = serializers.CharField(required=False, allow_blank=True, max_length=64)
    actor = serializers.CharField(required=False, allow_blank=True, max_length=150)
    source = serializers.CharField(required=False, allow_blank=True, max_length=16)
    image = serializers.CharField(required=False, allow_blank=True, max_length=21)
    request = serializers.IntegerField(required=False, min_value=1, max_value=2**62)


# --- policies -----------------------------------------------------------------------------------


class PolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = Policy
        exclude = ["created_by", "updated_by"]


class PlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = PolicyPlan
        fields = [
            "id", "policy", "evaluated_at", "source", "settings_snapshot", "totals", "changes",
            "previous", "proposed_at", "proposal_errors",
        ]  # fmt: skip


class PlanEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanEntry
        fields = [
            "image_ref", "account_id", "region", "name", "family", "decision", "reasons",
            "storage_gib",
        ]  # fmt: skip


# --- tokens -------------------------------------------------------------------------------------


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["prefix", "name", "scopes", "created_at", "expires_at", "last_used_at"]


# --- pages --------------------------------------------------------------------------------------


class PageHeadSerializer(serializers.Serializer):
    """A page of rows: how many match (more than ``count`` when ``count_is_bound``: counting
    stops there) and the cursor link to the next page."""

    count = serializers.IntegerField()
    count_is_bound = serializers.BooleanField()
    next = serializers.URLField(allow_null=True)


_PAGES: dict[str, type[serializers.Serializer]] = {}


def paged(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a cursor page of ``item`` (one class per item, as OpenAPI components)."""
    name = item.__name__.removesuffix("Serializer") + "PageSerializer"
    if name not in _PAGES:
        _PAGES[name] = type(
            name,
            (PageHeadSerializer,),
            {
                "previous": serializers.URLField(allow_null=True),
                "results": item(many=True),
            },
        )
    return _PAGES[name]


class AuditPageSerializer(PageHeadSerializer):
    """Events after ``after`` in sequence order; poll ``next`` (or ``after=last``) for more."""

    last_sequence = serializers.IntegerField(allow_null=True)
    results = AuditEventSerializer(many=True)
