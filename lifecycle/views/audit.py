"""Auditor pages: the log with filters, event detail, timelines, and exports."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from amidash.fields import form_problems, reads
from inventory.models import Image
from lifecycle.exports import FORMATS, start_export, stream_export
from lifecycle.filtersets import AuditFilterForm, EventCursorForm
from lifecycle.models import AuditEvent, AuditSource, LifecycleRequest
from lifecycle.reports import build_report
from lifecycle.services.audit import image_history, keyset_page, request_history
from lifecycle.services.audit_digests import latest_digest
from lifecycle.services.audit_signing import (
    SigningKeyError,
    fingerprint,
    public_key_pem,
    signing_key,
)

PAGE_SIZE = 50
TIMELINE_SIZE = 25


def _page(
    request: HttpRequest, queryset: Any, size: int, cursors: EventCursorForm
) -> dict[str, Any]:
    """The page of events the (valid) cursors point at, and the links to its neighbours."""
    start = cursors.cleaned_data
    events, has_older, has_newer = keyset_page(
        queryset, before=start["before"], after=start["after"], size=size
    )
    query = request.GET.copy()
    query.pop("before", None)
    query.pop("after", None)
    return {
        "events": events,
        "older": events[-1].sequence if has_older else None,
        "newer": events[0].sequence if has_newer else None,
        "query": query.urlencode(),
    }


def _render(request: HttpRequest, full: str, partial: str, context: dict, status: int = 200):
    response = render(request, partial if request.htmx else full, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _integrity() -> dict[str, Any]:
    """The public key auditors verify with, and the latest signed digest."""
    try:
        key = signing_key().public_key()
    except SigningKeyError as error:
        return {"key_error": str(error), "digest": latest_digest()}
    return {
        "public_key": public_key_pem(key),
        "fingerprint": fingerprint(key),
        "digest": latest_digest(),
    }


@require_GET
@permission_required("lifecycle.view_auditevent", raise_exception=True)
@reads(query=[AuditFilterForm, EventCursorForm])
def audit_log(request: HttpRequest) -> HttpResponse:
    """The log, filtered and paged; invalid filters are shown with their messages (400)."""
    form = AuditFilterForm(request.GET or None)
    cursors = EventCursorForm(request.GET)
    context: dict[str, Any] = {"form": form, "events": [], "filters": {}}
    status = 200
    if not cursors.is_valid() or (form.is_bound and not form.is_valid()):
        status = 400
        context["notices"] = form_problems(cursors) + (form_problems(form) if request.htmx else [])
    else:
        queryset = form.filter(AuditEvent.objects.all()) if form.is_bound else AuditEvent.objects
        context.update(_page(request, queryset.all(), PAGE_SIZE, cursors))
        context["filters"] = form.applied() if form.is_bound else {}
    if not request.htmx:
        context.update(_integrity())
        context["can_export"] = request.user.has_perm("lifecycle.export_auditevent")
    return _render(
        request, "lifecycle/audit_log.html", "lifecycle/partials/audit_rows.html", context, status
    )


@require_GET
@permission_required("lifecycle.view_auditevent", raise_exception=True)
def audit_event(request: HttpRequest, sequence: int) -> HttpResponse:
    event = get_object_or_404(AuditEvent, sequence=sequence)
    previous = AuditEvent.objects.filter(sequence=sequence - 1).values_list("hash", flat=True)
    context = {
        "event": event,
        "diff": event.diff(),
        "hash_ok": event.computed_hash() == event.hash,
        "link_ok": sequence == 1 or previous.first() == event.previous_hash,
    }
    return render(request, "lifecycle/audit_event.html", context)


@require_POST
@permission_required("lifecycle.export_auditevent", raise_exception=True)
@reads(post=[AuditFilterForm])
def audit_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in {*FORMATS, "pdf"}:
        raise BadRequest("Export formats are csv, jsonl and pdf.")
    form = AuditFilterForm(request.POST)
    if not form.is_valid():
        context = {"form": form, "events": [], "filters": {}}
        return render(request, "lifecycle/audit_log.html", context, status=400)
    plan = start_export(
        actor=request.user,
        source=AuditSource.WEB,
        fmt=fmt,
        filters=form.applied(),
        queryset=form.filter(AuditEvent.objects.all()),
    )
    if fmt == "pdf":
        scope = ", ".join(f"{k}={v}" for k, v in plan.filters.items()) or "the whole audit log"
        response: HttpResponse = HttpResponse(build_report(plan, scope), "application/pdf")
    else:
        response = StreamingHttpResponse(stream_export(plan), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{plan.filename}"'
    response["X-Audit-Export-Event"] = str(plan.event.sequence)
    return response


def _timeline(
    request: HttpRequest, template: str, history: Any, context: dict[str, Any]
) -> HttpResponse:
    """A timeline page (or its partial): a bad page link is named on the page, with a 400."""
    context["timeline_url"] = request.path
    cursors = EventCursorForm(request.GET)
    if not cursors.is_valid():
        context.update(events=[], notices=form_problems(cursors))
        return _render(request, template, "lifecycle/partials/timeline.html", context, 400)
    context.update(_page(request, history, TIMELINE_SIZE, cursors))
    return _render(request, template, "lifecycle/partials/timeline.html", context)


@require_GET
@reads(query=[EventCursorForm])
def image_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The history of one image, for every signed-in user; a partial for hx-get."""
    image = get_object_or_404(Image.objects.select_related("account"), pk=pk)
    context = {"image": image}
    return _timeline(request, "lifecycle/image_timeline.html", image_history(image), context)


@require_GET
@reads(query=[EventCursorForm])
def request_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The history of one lifecycle request: its own events and everything correlated.

    For whoever may read requests (every role) or the audit log; 404 for an unknown request.
    """
    if not (
        request.user.has_perm("lifecycle.view_lifecyclerequest")
        or request.user.has_perm("lifecycle.view_auditevent")
    ):
        raise PermissionDenied("Reading lifecycle requests needs a role.")
    lifecycle_request = get_object_or_404(LifecycleRequest, pk=pk)
    context = {"request_pk": pk, "lifecycle_request": lifecycle_request}
    return _timeline(request, "lifecycle/request_timeline.html", request_history(pk), context)
