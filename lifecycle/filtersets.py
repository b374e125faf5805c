"""Filters of the audit log, shared by the auditor pages, the exports and the PDF report."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from amidash.fields import (
    AccountIdField,
    AmiIdField,
    ChoiceField,
    DateTimeField,
    IdField,
    RangeEndField,
    RegionField,
    TextField,
)
from lifecycle.models import AuditEvent, AuditSource, AuditVerb

NAMESPACES = sorted({verb.split(".")[0] for verb in AuditVerb.values})
VERB_CHOICES = [
    ("", "Any verb"),
    *[(f"{namespace}.*", f"{namespace}.* (all)") for namespace in NAMESPACES],
    *[(verb, verb) for verb in sorted(AuditVerb.values)],
]


class AuditFilterForm(forms.Form):
    """Time range, verb (or ``namespace.*``), actor, source, account, Region, image, request."""

    since = DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="UTC, inclusive",
    )
    until = RangeEndField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="UTC; a date alone includes that whole day",
    )
    verb = ChoiceField(choices=VERB_CHOICES, required=False)
    actor = TextField(required=False, max_length=150, help_text="user name or system part")
    source = ChoiceField(choices=[("", "Any source"), *AuditSource.choices], required=False)
    account = AccountIdField(required=False)
    region = RegionField(required=False)
    image = AmiIdField(required=False)
    request = IdField(required=False, label="Request #")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            raise forms.ValidationError("The start of the time range must be before its end.")
        return data

    def applied(self) -> dict[str, str]:
        """The filters in use, as the strings the user gave (for manifests and links)."""
        return {
            name: str(self.data.get(name)).strip()
            for name in self.fields
            if self.cleaned_data.get(name) not in (None, "")
        }

    def filter(self, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("since"):
            queryset = queryset.filter(occurred_at__gte=data["since"])
        if data.get("until"):
            queryset = queryset.filter(occurred_at__lt=data["until"])
        verb = data.get("verb")
        if verb and verb.endswith(".*"):
            queryset = queryset.filter(verb__startswith=verb[:-1])
        elif verb:
            queryset = queryset.filter(verb=verb)
        if data.get("actor"):
            queryset = queryset.filter(actor_name__iexact=data["actor"].strip())
        if data.get("source"):
            queryset = queryset.filter(source=data["source"])
        if data.get("account"):
            queryset = queryset.filter(target_account=data["account"])
        if data.get("region"):
            queryset = queryset.filter(target_region=data["region"])
        if data.get("image"):
            queryset = queryset.filter(target_type="image", target_id=data["image"])
        if data.get("request"):
            pk = data["request"]
            queryset = queryset.filter(
                Q(correlation_id=f"request:{pk}") | Q(target_type="request", target_id=str(pk))
            )
        return queryset


class EventCursorForm(forms.Form):
    """Where a page of events starts: before or after an event number (the page links)."""

    before = IdField(required=False, label="Older than event")
    after = IdField(required=False, label="Newer than event")
