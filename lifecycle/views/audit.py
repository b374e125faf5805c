"""Auditor pages: the log with filters, event detail, timelines, and exports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from amidash.fields import form_problems, reads
from amidash.pagination import Position, SortKey, keyset_rows
from amidash.rendering import redirect_page, render_page
from inventory.models import Image
from lifecycle.exports import FORMATS, start_export, stream_export
from lifecycle.filtersets import (
    AuditFilterForm,
    EventCursorForm,
    ReportScopeForm,
    VerificationForm,
)
from lifecycle.models import AuditEvent, AuditSource, AuditVerification, LifecycleRequest
from lifecycle.reports import REPORT_FORMATS, build_report
from lifecycle.services.audit import image_history, request_history
from lifecycle.services.audit_digests import latest_digest
from lifecycle.services.audit_signing import (
    SigningKeyError,
    fingerprint,
    public_key_pem,
    signing_key,
)
from lifecycle.services.audit_verification import (
    latest_full_verification,
    start_full_verification,
    stored_result,
    verify_configured,
)
from lifecycle.services.report_figures import ReportScope
from lifecycle.services.requests import visible_requests

PAGE_SIZE = 50
TIMELINE_SIZE = 25
#: Events page newest first by their number, which is their primary key.
SEQUENCE = SortKey("sequence", kind="int")


def _position(start: dict[str, Any]) -> Position | None:
    """``after=N`` (newer than event N) goes back towards the newest; ``before=N`` goes on to
    older events; neither is the newest page."""
    after, before = start.get("after"), start.get("before")
    if after is not None:
        return Position("b", after, after)
    return Position("a", before, before) if before is not None else None


def _page(
    request: HttpRequest, queryset: Any, size: int, cursors: EventCursorForm
) -> dict[str, Any]:
    """The page of events the (valid) cursors point at, and the links to its neighbours."""
    position = _position(cursors.cleaned_data)
    page = keyset_rows(queryset, SEQUENCE, descending=True, size=size, position=position)
    events = page.rows
    query = request.GET.copy()
    query.pop("before", None)
    query.pop("after", None)
    return {
        "events": events,
        "older": events[-1].sequence if page.next_cursor else None,
        "newer": events[0].sequence if page.previous_cursor else None,
        "query": query.urlencode(),
    }


def _integrity() -> dict[str, Any]:
    """The public key auditors verify with, the latest signed digest and the latest full
    verification (with its result)."""
    full = latest_full_verification()
    found = {
        "digest": latest_digest(),
        "full_verification": full,
        "full_result": stored_result(full) if full else None,
    }
    try:
        key = signing_key().public_key()
    except SigningKeyError as error:
        return {"key_error": str(error), **found}
    return {"public_key": public_key_pem(key), "fingerprint": fingerprint(key), **found}


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
        context["report_form"] = ReportScopeForm()
    return render_page(
        request,
        "lifecycle/audit_log.html",
        "lifecycle/partials/audit_rows.html",
        context,
        status=status,
    )


@require_GET
@permission_required("lifecycle.view_auditevent", raise_exception=True)
@reads(query=[VerificationForm])
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Verify the chain now, resumed from the latest signed digest, and say which ran; a
    partial for the Audit page's Integrity section."""
    form = VerificationForm(request.GET)
    if not form.is_valid():
        context: dict[str, Any] = {"notices": form_problems(form)}
        status = 400
    else:
        context, status = {"result": verify_configured()}, 200
    return render_page(
        request,
        "lifecycle/audit_verify.html",
        "lifecycle/partials/audit_verification.html",
        context,
        status=status,
    )


def _full_verification(request: HttpRequest, verification: AuditVerification) -> HttpResponse:
    context = {"verification": verification, "result": stored_result(verification)}
    return render_page(
        request,
        "lifecycle/audit_full_verification.html",
        "lifecycle/partials/full_verification.html",
        context,
    )


@require_POST
@permission_required("lifecycle.view_auditevent", raise_exception=True)
def audit_verify_full(request: HttpRequest) -> HttpResponse:
    """Start a full verification on a worker (or join the one under way) and show its
    progress: the partial for htmx, else its page."""
    verification = start_full_verification(request.user)
    if getattr(request, "htmx", False):
        return _full_verification(request, verification)
    return redirect_page(request, reverse("lifecycle:audit_verification", args=[verification.pk]))


@require_GET
@permission_required("lifecycle.view_auditevent", raise_exception=True)
def audit_verification(request: HttpRequest, pk: int) -> HttpResponse:
    """One full verification: its progress while it runs (the partial polls), then its
    result."""
    verifications = AuditVerification.objects.select_related("requested_by")
    verification = get_object_or_404(verifications, pk=pk)
    return _full_verification(request, verification)


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
    queryset = form.filter(AuditEvent.objects.all())
    if fmt == "pdf":
        scope = ReportScope(
            form.cleaned_data.get("since") or datetime.min.replace(tzinfo=UTC),
            form.cleaned_data.get("until") or datetime.max.replace(tzinfo=UTC),
        )
        plan, body = build_report(
            actor=request.user, source=AuditSource.WEB, scope=scope, fmt=fmt, queryset=queryset
        )
        response: HttpResponse = HttpResponse(body, REPORT_FORMATS[fmt])
    else:
        plan = start_export(
            actor=request.user,
            source=AuditSource.WEB,
            fmt=fmt,
            filters=form.applied(),
            queryset=queryset,
        )
        response = StreamingHttpResponse(stream_export(plan), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{plan.filename}"'
    response["X-Audit-Export-Event"] = str(plan.event.sequence)
    return response


@require_POST
@permission_required("lifecycle.export_auditevent", raise_exception=True)
@reads(post=[ReportScopeForm])
def audit_report(request: HttpRequest) -> HttpResponse:
    """The audit report of a period and scope, from the Audit page's report form."""
    fmt = request.POST.get("format", "pdf")
    if fmt not in REPORT_FORMATS:
        raise BadRequest("Report formats are pdf, csv and jsonl.")
    form = ReportScopeForm(request.POST)
    if not form.is_valid():
        context = {"form": AuditFilterForm(), "report_form": form, "events": [], "filters": {}}
        context["can_export"] = True
        return render(request, "lifecycle/audit_log.html", context, status=400)
    plan, body = build_report(
        actor=request.user, source=AuditSource.WEB, scope=form.scope(), fmt=fmt
    )
    response = HttpResponse(body, REPORT_FORMATS[fmt])
    stamp = plan.event.occurred_at.strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="amidash-report-{stamp}.{fmt}"'
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
        return render_page(
            request, template, "lifecycle/partials/timeline.html", context, status=400
        )
    context.update(_page(request, history, TIMELINE_SIZE, cursors))
    return render_page(request, template, "lifecycle/partials/timeline.html", context)


@require_GET
@reads(query=[EventCursorForm])
def image_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The history of one image, for whoever may read the audit log (all of it) or may see the
    image (404 otherwise); a partial for hx-get."""
    images = Image.objects.select_related("account")
    if not request.user.has_perm("lifecycle.view_auditevent"):
        images = images.visible_to(request.user)
    image = get_object_or_404(images, pk=pk)
    context = {"image": image}
    return _timeline(request, "lifecycle/image_timeline.html", image_history(image), context)


@require_GET
@reads(query=[EventCursorForm])
def request_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The history of one lifecycle request: its own events and everything correlated.

    For whoever may read the audit log (all of it), or requests (those they may see); 404 for
    an unknown request or one they may not see.
    """
    audits = request.user.has_perm("lifecycle.view_auditevent")
    if not (audits or request.user.has_perm("lifecycle.view_lifecyclerequest")):
        raise PermissionDenied("Reading lifecycle requests needs a role.")
    requests = LifecycleRequest.objects.all()
    if not audits:
        requests = visible_requests(request.user, requests)
    lifecycle_request = get_object_or_404(requests, pk=pk)
    context = {"request_pk": pk, "lifecycle_request": lifecycle_request}
    return _timeline(request, "lifecycle/request_timeline.html", request_history(pk), context)
