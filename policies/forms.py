"""The policy form: the one validation of a policy, used by the pages and by YAML import.

Its fields take what a browser sends (text) and what a YAML file holds (lists, mappings, numbers,
booleans) alike, so a file and the form accept and refuse exactly the same policies.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from policies.models import Policy

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_TAG_KEY_MAX = 128


class ListField(forms.Field):
    """A list of strings: a YAML list, or text separated by commas or new lines."""

    def __init__(self, *, item_pattern: re.Pattern | None = None, item_label: str, **kwargs: Any):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.item_pattern, self.item_label = item_pattern, item_label

    def to_python(self, value: Any) -> list[str]:
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = re.split(r"[,\n]", value)
        if not isinstance(value, list | tuple):
            raise ValidationError(f"Give a list of {self.item_label}s.")
        items = [_plain_text(item, self.item_label) for item in value]
        return sorted({item for item in items if item})

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        bad = [item for item in value if self.item_pattern and not self.item_pattern.match(item)]
        if bad:
            raise ValidationError(f"Not a valid {self.item_label}: {', '.join(bad[:5])}.")

    def prepare_value(self, value: Any) -> str:
        return ", ".join(value) if isinstance(value, list | tuple) else value or ""


def _plain_text(item: Any, label: str) -> str:
    if isinstance(item, bool) or not isinstance(item, str | int):
        raise ValidationError(f"Each {label} must be text, not {item!r}.")
    return str(item).strip()


class TagsField(forms.Field):
    """Tags as key=value: a YAML mapping, or text with one ``key=value`` per line or comma."""

    def to_python(self, value: Any) -> dict[str, str]:
        if value in (None, ""):
            return {}
        if isinstance(value, str):
            pairs = [part.strip() for part in re.split(r"[,\n]", value) if part.strip()]
            if any("=" not in pair for pair in pairs):
                raise ValidationError("Write each tag as key=value.")
            value = dict(pair.split("=", 1) for pair in pairs)
        if not isinstance(value, dict):
            raise ValidationError("Give tags as a mapping of key: value.")
        tags = {_plain_text(k, "tag key"): _plain_text(v, "tag value") for k, v in value.items()}
        if any(not key or len(key) > _TAG_KEY_MAX for key in tags):
            raise ValidationError(f"Tag keys are 1 to {_TAG_KEY_MAX} characters.")
        return tags

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, dict):
            return "\n".join(f"{key}={item}" for key, item in value.items())
        return value or ""


class DeprecationTimeField(forms.DateTimeField):
    """A UTC time; YAML gives datetimes, the browser a local-time text in UTC."""

    def to_python(self, value: Any) -> datetime | None:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, str) and value.strip().endswith("Z"):
            value = value.strip()[:-1]
        result = super().to_python(value)
        return result.astimezone(UTC) if result else None


class PolicyForm(forms.ModelForm):
    """A policy's settings, checked (see the module docstring)."""

    scope_accounts = ListField(item_pattern=_ACCOUNT, item_label="12-digit account id")
    scope_regions = ListField(item_pattern=_REGION, item_label="Region name")
    scope_families = ListField(item_label="family glob", help_text="Globs, e.g. web*")
    scope_names = ListField(item_label="name glob", help_text="Globs, e.g. web-*")
    scope_tags = TagsField(required=False, help_text="key=value, one per line; all must match")
    keep_tags = TagsField(required=False, help_text="key=value, one per line; any one keeps")
    deprecate_at = DeprecationTimeField(
        required=False,
        label="Deprecate at (UTC)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: at the end of the request's approval window.",
        error_messages={
            "invalid": "Give true, false or a UTC date and time such as 2030-01-31T00:00:00Z."
        },
    )
    max_share_of_family = forms.FloatField(
        required=False, min_value=0.01, max_value=1.0, help_text="0.01 to 1"
    )

    class Meta:
        model = Policy
        fields = [
            "name",
            "description",
            "enabled",
            "scope_accounts",
            "scope_regions",
            "scope_families",
            "scope_names",
            "scope_tags",
            "keep_newest_per_family",
            "keep_younger_than_days",
            "keep_launched_within_days",
            "keep_tags",
            "keep_public",
            "keep_shared",
            "keep_newest_per_lineage",
            "deprecate",
            "deprecate_at",
            "disable_after_days",
            "deregister_after_days",
            "delete_snapshots",
            "max_images_per_run",
            "max_share_of_family",
            "notice_days",
            "owner_tag",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        labels = {
            "keep_newest_per_family": "Keep the newest N per family",
            "keep_younger_than_days": "Keep images younger than (days)",
            "keep_launched_within_days": "Keep images launched within (days)",
            "keep_public": "Keep public images",
            "keep_shared": "Keep images shared with other accounts",
            "keep_newest_per_lineage": "Keep the newest image of each lineage",
            "deprecate": "Deprecate",
            "disable_after_days": "Disable once deprecated for (days)",
            "deregister_after_days": "Deregister once disabled for (days)",
            "delete_snapshots": "Delete snapshots when deregistering",
            "max_images_per_run": "At most images per run",
            "max_share_of_family": "At most this share of a family per run",
            "notice_days": "Notice to owners (days)",
            "owner_tag": "Owner tag key",
        }

    def clean_name(self) -> str:
        name = (self.cleaned_data.get("name") or "").strip()
        if not _NAME.match(name):
            raise ValidationError(
                "Use 1 to 100 lower-case letters, digits, dots, dashes or underscores, "
                "starting with a letter or digit."
            )
        return name

    def clean_notice_days(self) -> int:
        days = self.cleaned_data.get("notice_days") or 0
        expiry = settings.LIFECYCLE_REQUEST_EXPIRY_DAYS
        if days >= expiry:
            raise ValidationError(
                f"Notice must be shorter than the {expiry} days a request waits for approval."
            )
        return days

    def clean_deprecate_at(self) -> datetime | None:
        value = self.cleaned_data.get("deprecate_at")
        if value is not None and value <= timezone.now():
            raise ValidationError("The deprecation time must be in the future.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("notice_days") and not (data.get("owner_tag") or "").strip():
            self.add_error("notice_days", "A notice period needs owner_tag, the tag naming owners.")
        if data.get("deprecate_at") and not data.get("deprecate"):
            self.add_error("deprecate_at", "A deprecation time needs the deprecate stage on.")
        if data.get("delete_snapshots") and data.get("deregister_after_days") is None:
            self.add_error("delete_snapshots", "Deleting snapshots needs the deregister stage.")
        return data

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for every error; field "" for the form as a whole."""
        return [
            ("" if field == "__all__" else field, str(message))
            for field, messages in self.errors.items()
            for message in messages
        ]
