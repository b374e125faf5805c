"""Filters of the audit log, shared by the auditor pages, the exports and the PDF report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from amidash.fields import (
    AccountIdField,
    AmiIdField,
    ChoiceField,
    DateField,
    DateTimeField,
    IdField,
    RangeEndField,
    RegionField,
    TextField,
    account_id_validator,
    region_validator,
)
from lifecycle.models import AuditEvent, AuditSource, AuditVerb
from lifecycle.services.report_figures import ReportScope

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


def preset_period(preset: str, today: date) -> tuple[date, date]:
    """The first and last day of a named period before or up to ``today``."""
    if preset == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if preset == "last_quarter":
        this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        last = this_quarter - timedelta(days=1)
        return date(last.year, 3 * ((last.month - 1) // 3) + 1, 1), last
    return date(today.year, 1, 1), today


REPORT_PRESETS = [
    ("", "Dates below"),
    ("last_month", "Last month"),
    ("last_quarter", "Last quarter"),
    ("year_to_date", "Year to date"),
]


def _listed(raw: str, validator: Callable[[str], None] | None = None) -> tuple[str, ...]:
    values = tuple(sorted({part.strip() for part in raw.replace(",", " ").split() if part}))
    for value in values if validator else ():
        validator(value)
    return values


class ReportScopeForm(forms.Form):
    """The period (a preset or from/to dates, both days included) and optional scope of an
    audit report; the web page and ``audit_report`` both read it, so they accept the same."""

    preset = ChoiceField(choices=REPORT_PRESETS, required=False)
    start = DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    end = DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))
    accounts = TextField(required=False, max_length=2000, help_text="account ids, comma separated")
    regions = TextField(required=False, max_length=2000, help_text="Regions, comma separated")
    families = TextField(
        required=False, max_length=2000, help_text="image families, comma separated"
    )
    image = AmiIdField(required=False)

    def clean_accounts(self) -> tuple[str, ...]:
        return _listed(self.cleaned_data["accounts"], account_id_validator)

    def clean_regions(self) -> tuple[str, ...]:
        return _listed(self.cleaned_data["regions"], region_validator)

    def clean_families(self) -> tuple[str, ...]:
        return _listed(self.cleaned_data["families"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("preset"):
            data["start"], data["end"] = preset_period(data["preset"], timezone.now().date())
        start, end = data.get("start"), data.get("end")
        if not (start and end) and not self.errors:
            raise forms.ValidationError("Choose a period: a preset, or both From and To.")
        if start and end and start > end:
            raise forms.ValidationError("The period's start must not be after its end.")
        return data

    def scope(self) -> ReportScope:
        """The valid form as a report scope: from the start of its first day to the end of its
        last."""
        data = self.cleaned_data
        return ReportScope(
            start=datetime.combine(data["start"], time.min, tzinfo=UTC),
            end=datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=UTC),
            accounts=data["accounts"],
            regions=data["regions"],
            families=data["families"],
            image=data.get("image") or "",
        )


class VerificationForm(forms.Form):
    """The verification of the chain the Audit page runs in the request: resumed from the latest
    signed digest. Re-hashing every event runs on a worker (``audit_verify_full``)."""

    method = forms.ChoiceField(
        choices=[("resumed", "Resume from the latest signed digest")],
        required=False,
        label="Verification",
    )


class EventCursorForm(forms.Form):
    """Where a page of events starts: before or after an event number (the page links)."""

    before = IdField(required=False, label="Older than event")
    after = IdField(required=False, label="Newer than event")
