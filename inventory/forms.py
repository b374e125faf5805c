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
FINDINGS = [
    ("", "Any"),
    ("critical", "Critical findings"),
    ("not_scanned", "Not scanned"),
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
    findings = ChoiceField(label="Inspector findings", required=False, choices=FINDINGS)
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


#: How many criteria the simulator's form offers (AWS takes up to 10).
CRITERIA_ROWS = 3
MAX_DAYS = 36_500


def criterion_prefix(number: int) -> str:
    return f"c{number}"


class CriteriaForm(forms.Form):
    """Allowed AMIs criteria as the simulator edits them: per criterion, providers and name
    patterns (comma or line separated) and the two age conditions; optionally one account+
    Region (its pk) instead of every Region in scope. ``criteria`` is the cleaned list in
    AWS's shape; the checks are ``inventory.allowed_images.clean_criteria``'s."""

    region = IntegerField(min_value=1, required=False, label="Account and Region")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for number in range(1, CRITERIA_ROWS + 1):
            prefix = criterion_prefix(number)
            self.fields[f"{prefix}_providers"] = TextField(
                max_length=4000, required=False, label=f"Criterion {number}: providers"
            )
            self.fields[f"{prefix}_names"] = TextField(
                max_length=8000,
                multiline=True,
                required=False,
                label=f"Criterion {number}: name patterns",
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            self.fields[f"{prefix}_created"] = IntegerField(
                min_value=0,
                max_value=MAX_DAYS,
                required=False,
                label=f"Criterion {number}: max days since created",
            )
            self.fields[f"{prefix}_deprecated"] = IntegerField(
                min_value=0,
                max_value=MAX_DAYS,
                required=False,
                label=f"Criterion {number}: max days since deprecated",
            )

    @classmethod
    def every_field(cls) -> dict[str, forms.Field]:
        """Every field the form reads, the criteria's included (they are made per instance)."""
        return dict(cls().fields)

    def rows(self) -> list[list[forms.BoundField]]:
        """The criterion fields, one row per criterion, for the template."""
        names = ("providers", "names", "created", "deprecated")
        return [
            [self[f"{criterion_prefix(n)}_{name}"] for name in names]
            for n in range(1, CRITERIA_ROWS + 1)
        ]

    def clean(self) -> dict[str, Any]:
        from inventory.allowed_images import CriteriaError, clean_criteria

        data = super().clean()
        raw = [self._raw_criterion(n, data) for n in range(1, CRITERIA_ROWS + 1)]
        raw = [criterion for criterion in raw if criterion]
        try:
            data["criteria"] = clean_criteria(raw)
        except CriteriaError as error:
            for message in error.messages:
                self.add_error(None, message)
        return data

    @staticmethod
    def _raw_criterion(number: int, data: dict[str, Any]) -> dict[str, Any]:
        prefix = criterion_prefix(number)
        raw: dict[str, Any] = {}
        providers = _split(data.get(f"{prefix}_providers"))
        names = _split(data.get(f"{prefix}_names"))
        if providers:
            raw["ImageProviders"] = providers
        if names:
            raw["ImageNames"] = names
        if data.get(f"{prefix}_created") is not None:
            raw["CreationDateCondition"] = {"MaximumDaysSinceCreated": data[f"{prefix}_created"]}
        if data.get(f"{prefix}_deprecated") is not None:
            raw["DeprecationTimeCondition"] = {
                "MaximumDaysSinceDeprecated": data[f"{prefix}_deprecated"]
            }
        return raw


def _split(text: str | None) -> list[str]:
    """Values separated by commas or line breaks (a name pattern may hold spaces)."""
    if not text:
        return []
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def criteria_initial(criteria: list[dict[str, Any]]) -> dict[str, Any]:
    """The form's initial values for stored criteria (the first ``CRITERIA_ROWS``)."""
    initial: dict[str, Any] = {}
    for number, criterion in enumerate(criteria[:CRITERIA_ROWS], start=1):
        prefix = criterion_prefix(number)
        initial[f"{prefix}_providers"] = ", ".join(criterion.get("ImageProviders", []))
        initial[f"{prefix}_names"] = "\n".join(criterion.get("ImageNames", []))
        created = criterion.get("CreationDateCondition", {}).get("MaximumDaysSinceCreated")
        deprecated = criterion.get("DeprecationTimeCondition", {}).get("MaximumDaysSinceDeprecated")
        initial[f"{prefix}_created"] = created
        initial[f"{prefix}_deprecated"] = deprecated
    return initial


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
