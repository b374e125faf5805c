"""Forms of the request pages: parse and check input; the services enforce the rules."""

from __future__ import annotations

from typing import Any

from django import forms

from amidash.fields import ChoiceField, DateTimeField, IdField, ListField, TextField
from lifecycle.choices import LifecycleAction
from lifecycle.services.requests import MAX_IMAGES_PER_REQUEST

REGION_HELP = "Comma-separated Region names, e.g. eu-west-1, us-west-2."
MAX_TEXT = 4000  # a reason, a justification, a comment

#: The fields the request page shows for each action, besides the reason and the ticket (the
#: page and the placing of refusals both follow it).
ACTION_FIELDS = {
    LifecycleAction.DEPRECATE: ("deprecate_at",),
    LifecycleAction.DISABLE: ("override_in_use", "override_reason"),
    LifecycleAction.DEREGISTER: ("delete_snapshots", "override_in_use", "override_reason"),
    LifecycleAction.COPY: ("regions",),
}


def _comment_field() -> TextField:
    return TextField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=MAX_TEXT,
        multiline=True,
    )


class RequestForm(forms.Form):
    """A new request: the action, its parameters, the reason, an optional override."""

    action = ChoiceField(choices=LifecycleAction.choices)
    image = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    reason = TextField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_TEXT, multiline=True
    )
    ticket = TextField(required=False, max_length=128, label="Ticket reference")
    deprecate_at = DateTimeField(
        required=False,
        label="Deprecate at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    delete_snapshots = forms.BooleanField(required=False, label="Also delete its snapshots")
    regions = TextField(
        required=False, max_length=1000, help_text=REGION_HELP, label="Copy to Regions"
    )
    override_in_use = forms.BooleanField(
        required=False, label="Override: act even though something uses the image"
    )
    override_reason = TextField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Override justification",
        max_length=MAX_TEXT,
        multiline=True,
    )

    def __init__(self, *args: Any, image_pks: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["image"].choices = [(pk, pk) for pk in image_pks or []]

    def shown_fields(self, action: str) -> set[str]:
        """The fields on the page for ``action`` (a message about another goes in the banner)."""
        return {"reason", "ticket", *ACTION_FIELDS.get(action, ())}

    def parameters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "deprecate_at": data.get("deprecate_at"),
            "delete_snapshots": data.get("delete_snapshots"),
            "regions": [r for r in (data.get("regions") or "").replace(" ", ",").split(",") if r],
        }


class SelectionForm(forms.Form):
    """What the new-request page is asked about: an action and the selected images' ids."""

    action = ChoiceField(
        choices=LifecycleAction.choices,
        error_messages={
            "required": "Choose one of the lifecycle actions.",
            "invalid_choice": "Choose one of the lifecycle actions.",
        },
    )
    image = ListField(
        IdField(),
        max_items=MAX_IMAGES_PER_REQUEST,
        label="Images",
        error_messages={"required": "Select at least one image."},
    )


class DecisionForm(forms.Form):
    """Approve or reject, with the fingerprint the approver reviewed."""

    decision = ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    fingerprint = TextField(max_length=64, widget=forms.HiddenInput)
    comment = _comment_field()


class CancelForm(forms.Form):
    """Withdraw a pending request, with an optional comment."""

    comment = _comment_field()


class RequestFilterForm(forms.Form):
    """Filters of the request queue."""

    SCOPES = [("", "All"), ("awaiting", "Awaiting my decision"), ("mine", "Mine")]

    scope = ChoiceField(choices=SCOPES, required=False)
    status = ChoiceField(required=False)
    action = ChoiceField(required=False)
    q = TextField(required=False, max_length=100, label="Search")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from lifecycle.choices import RequestStatus

        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Any status"), *RequestStatus.choices]
        self.fields["action"].choices = [("", "Any action"), *LifecycleAction.choices]
