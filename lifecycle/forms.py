"""Forms of the request pages: parse and check input; the services enforce the rules."""

from __future__ import annotations

from typing import Any

from django import forms

from amidash.fields import ChoiceField, IdField, ListField, TextField
from inventory.choices import AllowedImagesState
from inventory.forms import CriteriaForm
from lifecycle.actions import ACTIONS, ActionSpec, action_choices
from lifecycle.services.requests import MAX_IMAGES_PER_REQUEST

MAX_TEXT = 4000  # a reason, a justification, a comment


def _comment_field() -> TextField:
    return TextField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=MAX_TEXT,
        multiline=True,
    )


class RequestForm(forms.Form):
    """A new request: the action, its parameters, the reason, an optional override.

    The parameter fields are those of the action's spec; the override is read for every action
    (a crafted one is still refused with a message) but shown only for guarded ones.
    """

    action = ChoiceField(choices=action_choices)
    image = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    reason = TextField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_TEXT, multiline=True
    )
    ticket = TextField(required=False, max_length=128, label="Ticket reference")
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

    def __init__(
        self,
        *args: Any,
        image_pks: list[int] | None = None,
        spec: ActionSpec | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["image"].choices = [(pk, pk) for pk in image_pks or []]
        self.spec = spec
        if spec is not None:
            self.fields.update(spec.form_fields())

    @classmethod
    def every_field(cls) -> dict[str, forms.Field]:
        """Every field the form may read, whatever the action: its own and each spec's."""
        fields = dict(cls.base_fields)
        for spec in ACTIONS.values():
            fields.update(spec.form_fields())
        return fields

    def parameter_fields(self) -> list[forms.BoundField]:
        """The action's parameter fields, in the order its spec lists them."""
        return [self[name] for name in self.spec.form_fields()] if self.spec else []

    def shown_fields(self) -> set[str]:
        """The fields on the page (a message about another goes in the banner)."""
        return {"reason", "ticket", *(self.spec.shown_fields() if self.spec else ())}

    def parameters(self) -> dict[str, Any]:
        return self.spec.form_parameters(self.cleaned_data) if self.spec else {}


class SelectionForm(forms.Form):
    """What the new-request page is asked about: an action and the selected images' ids."""

    action = ChoiceField(
        choices=action_choices,
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
        self.fields["action"].choices = [("", "Any action"), *action_choices()]


class AllowedImagesRequestForm(CriteriaForm):
    """A proposed Allowed AMIs change of one account+Region: the simulator's criteria, the
    state to set, and the reason."""

    state = ChoiceField(choices=AllowedImagesState.choices, label="State")
    reason = TextField(
        max_length=MAX_TEXT,
        multiline=True,
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    ticket = TextField(max_length=128, required=False, label="Ticket")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].required = True
