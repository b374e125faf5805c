"""Forms of the dashboards: the overview's and image list's query strings, and "Sync now"."""

from __future__ import annotations

from typing import Any

from django import forms

from amidash.fields import (
    AccountIdField,
    ChoiceField,
    DateField,
    IdField,
    IntegerField,
    NumberChoiceField,
    RegionField,
    TextField,
    form_problems,
)
from inventory.choices import ImageState

YES_NO = [("", "Any"), ("yes", "Yes"), ("no", "No")]
EXPOSURE = [
    ("", "Any"),
    ("public", "Public"),
    ("shared", "Shared with accounts"),
    ("exposed", "Public or shared"),
    ("private", "Private"),
]
# "deprecated" is not an AWS state but what admins ask for: an available image past its
# deprecation time. "gone" means deregistered (no longer listed).
STATE_FILTERS = [("", "Any"), *ImageState.choices, ("deprecated", "Deprecated")]
PAGE_SIZES = [25, 50, 100, 200]
MAX_AGE_DAYS = 36_500  # a century: beyond it, date arithmetic would overflow
CLEANUP_CHOICES = [30, 90, 180, 365]
DEFAULT_CLEANUP_DAYS = 90


class OverviewForm(forms.Form):
    """The overview's one parameter: the age from which an unused image counts as clean-up."""

    older_than = NumberChoiceField(CLEANUP_CHOICES, required=False, label="“Older than” (days)")


class ImageFilterForm(forms.Form):
    """The image list filters. Bound to ``request.GET``; a field that does not validate is
    ignored by the list (with a visible notice) and refused by the export (400)."""

    q = TextField(
        label="Name or id", required=False, max_length=200, strip=True,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "ami-… or name"}),
    )  # fmt: skip
    account = AccountIdField(required=False)
    region = RegionField(required=False)
    state = ChoiceField(label="State", required=False, choices=STATE_FILTERS)
    deprecated = ChoiceField(label="Deprecation set", required=False, choices=YES_NO)
    in_use = ChoiceField(label="In use", required=False, choices=YES_NO)
    gone = ChoiceField(label="Gone", required=False, choices=YES_NO)
    exposure = ChoiceField(label="Public / shared", required=False, choices=EXPOSURE)
    min_age = IntegerField(
        label="Age from (days)", required=False, min_value=0, max_value=MAX_AGE_DAYS
    )
    max_age = IntegerField(
        label="Age to (days)", required=False, min_value=0, max_value=MAX_AGE_DAYS
    )
    launched_before = DateField(
        label="Last launched before",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Includes images never launched.",
    )
    tag_key = TextField(label="Tag key", required=False, max_length=128)
    tag_value = TextField(label="Tag value", required=False, max_length=256)
    family = TextField(label="Family", required=False, max_length=128)

    def __init__(
        self,
        *args: Any,
        accounts: list[tuple[str, str]] | None = None,
        regions: list[str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        if regions is not None:
            self.fields["region"] = ChoiceField(
                label="Region", required=False, choices=[("", "Any"), *((r, r) for r in regions)]
            )
        if accounts is not None:
            self.fields["account"] = ChoiceField(
                label="Account", required=False, choices=[("", "Any"), *accounts]
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high = data.get("min_age"), data.get("max_age")
        if low is not None and high is not None and low > high:
            self.add_error("max_age", "The upper age must not be below the lower one.")
        if data.get("tag_value") and not data.get("tag_key"):
            self.add_error("tag_value", "Give a tag key with the tag value.")
        return data

    def active_filters(self) -> dict[str, Any]:
        """The valid, non-empty filters (invalid fields are dropped)."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in self.errors and value not in (None, "")
        }

    def problems(self) -> list[str]:
        """One readable line per invalid filter, for the notice above the table."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return form_problems(self)


class SyncNowForm(forms.Form):
    """Optional narrowing of a manual sync to one account and/or Region."""

    account = AccountIdField(required=False)
    region = RegionField(required=False)


class ResultCursorForm(forms.Form):
    """Where a page of a sync run's results starts: after or before a result (the page links).
    Both at once name no page."""

    after = IdField(required=False, label="After result")
    before = IdField(required=False, label="Before result")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("after") is not None and data.get("before") is not None:
            raise forms.ValidationError("A page starts after a result or before one, not both.")
        return data
