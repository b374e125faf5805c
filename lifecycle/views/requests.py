"""Request pages: the queue, the new-request preview, the request page and its decisions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from amidash.fields import PageForm, form_problems, reads
from amidash.rendering import redirect_page, render_page
from amidash.twofactor import needs_reauthentication
from inventory.services import consumers
from lifecycle.actions import ACTIONS
from lifecycle.choices import ItemStatus, RequestStatus
from lifecycle.forms import CancelForm, DecisionForm, RequestFilterForm, RequestForm, SelectionForm
from lifecycle.models import AuditSource, LifecycleRequest
from lifecycle.services import requests as services
from lifecycle.services.preview import preview_images

PAGE_SIZE = 50


@require_http_methods(["GET"])
@reads(query=[RequestFilterForm, PageForm])
def request_list(request: HttpRequest) -> HttpResponse:
    """The queue: every request, filterable; approvers see what awaits them. Filters that do
    not validate are named beside their fields, a bad page number above the list (400)."""
    services.require_view(request.user)
    form = RequestFilterForm(request.GET or None)
    pages = PageForm(request.GET)
    number = pages.cleaned_data["page"] if pages.is_valid() else None
    valid = pages.is_valid() and (not form.is_bound or form.is_valid())
    context = {
        "form": form,
        "page": Paginator(
            services.filtered_requests(request.user, form.cleaned_data if form.is_valid() else {}),
            PAGE_SIZE,
        ).get_page(number),
        "notices": form_problems(pages) + (form_problems(form) if request.htmx else []),
        "awaiting": services.awaiting_decision(request.user).count()
        if services.may_approve(request.user)
        else None,
        "query": _query_without_page(request),
    }
    return render_page(
        request,
        "lifecycle/request_list.html",
        "lifecycle/requests/list_body.html",
        context,
        status=200 if valid else 400,
    )


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _selection(source: Any, user: Any) -> tuple[str, list[int], dict[str, Any]]:
    """The action and the images asked about: the selected ids, or every image an image-list
    filter matches (with the provenance that records the filter); a RequestError names what is
    wrong."""
    selection = SelectionForm(source)
    from_filter = "from_filter" in source
    selection.fields["image"].required = not from_filter
    if not selection.is_valid():
        raise services.RequestError(" ".join(form_problems(selection)))
    action = selection.cleaned_data["action"]
    if from_filter:
        return action, *services.images_from_filter(source["from_filter"], user)
    return action, selection.cleaned_data["image"], {}


@require_http_methods(["GET", "POST"])
@reads(query=[SelectionForm], post=[RequestForm])
def request_create(request: HttpRequest) -> HttpResponse:
    """GET: the preview of an action on the selected images (or on every image a filter
    matches); POST: make the request."""
    if not services.may_request(request.user):
        raise PermissionDenied("Requesting lifecycle actions needs the Requester role.")
    source = request.POST if request.method == "POST" else request.GET
    try:
        action, pks, provenance = _selection(source, request.user)
        images = services.selected_images(pks, request.user)
    except services.RequestError as error:
        return render(request, "lifecycle/requests/bad_request.html", {"error": error}, status=400)
    spec = ACTIONS[action]
    data = request.POST.copy() if request.method == "POST" else None
    if data is not None and provenance:
        data.setlist("image", [str(pk) for pk in pks])  # a filter's images are found again
    form = RequestForm(data, image_pks=pks, spec=spec, initial={"action": action})
    if request.method == "POST" and form.is_valid():
        response = _create(request, form, provenance)
        if response is not None:
            return response
    context = {
        "form": form,
        "spec": spec,
        "images": images,
        "previews": preview_images(action, images),
        "can_report_consumers": request.user.has_perm(consumers.REPORT_PERMISSION),
        "from_filter": provenance.get("filter"),
        "status_code": 400 if request.method == "POST" else 200,
    }
    return render(request, "lifecycle/requests/create.html", context, status=context["status_code"])


def _create(
    request: HttpRequest, form: RequestForm, provenance: dict[str, Any]
) -> HttpResponse | None:
    data = form.cleaned_data
    draft = services.RequestDraft(
        action=data["action"],
        image_pks=data["image"],
        reason=data["reason"],
        parameters=form.parameters(),
        ticket=data["ticket"],
        override_in_use=data["override_in_use"],
        override_reason=data["override_reason"],
        provenance=provenance,
    )
    try:
        created = services.create_request(request.user, draft, AuditSource.WEB)
    except services.RequestError as error:
        shown = form.shown_fields()
        form.add_error(error.field if error.field in shown else None, str(error))
        return None
    messages.success(request, f"Request #{created.pk} is waiting for approval.")
    url = reverse("lifecycle:request_detail", args=[created.pk])
    return redirect_page(request, url)


def _detail_context(request: HttpRequest, lifecycle_request: LifecycleRequest) -> dict[str, Any]:
    items = lifecycle_request.items.order_by("pk")
    user = request.user
    decided = lifecycle_request.decisions.filter(approver=user).exists()
    can_decide = (
        lifecycle_request.status == RequestStatus.PENDING
        and not lifecycle_request.is_expired()
        and services.may_approve(user)
        and user.pk != lifecycle_request.requester_id
        and not decided
    )
    counts = {s.value: 0 for s in ItemStatus}
    for status in items.values_list("status", flat=True):
        counts[status] += 1
    spec = ACTIONS[lifecycle_request.action]
    return {
        "req": lifecycle_request,
        "parameters": spec.describe_parameters(lifecycle_request.parameters),
        "target_noun": spec.target_noun,
        "items": items[:500],
        "item_total": sum(counts.values()),
        "item_counts": [(ItemStatus(s).label, n) for s, n in counts.items() if n],
        "decisions": lifecycle_request.decisions.select_related("approver"),
        "can_decide": can_decide,
        "already_decided": decided,
        "is_own": user.pk == lifecycle_request.requester_id,
        "can_cancel": lifecycle_request.status == RequestStatus.PENDING
        and (user.pk == lifecycle_request.requester_id or user.is_superuser),
        "decision_form": DecisionForm(initial={"fingerprint": lifecycle_request.fingerprint}),
        "in_progress": lifecycle_request.status
        in (RequestStatus.APPROVED, RequestStatus.EXECUTING),
        "blocked_items": sum(1 for item in items if item.preview.get("blocked")),
    }


@require_http_methods(["GET"])
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Items, warnings, the override, the fingerprint, decisions; polls while executing."""
    services.require_view(request.user)
    lifecycle_request = get_object_or_404(
        services.visible_requests(request.user).select_related("requester"), pk=pk
    )
    context = _detail_context(request, lifecycle_request)
    return render_page(
        request,
        "lifecycle/requests/detail.html",
        "lifecycle/requests/detail_body.html",
        context,
        finished=not context["in_progress"],
    )


@require_POST
@reads(post=[DecisionForm])
def request_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject; the service refuses self-approval, repeats and stale fingerprints.

    Without a recent sign-in the user confirms it is them first, then comes back to the request.
    """
    if needs_reauthentication(request):
        back = reverse("lifecycle:request_detail", args=[pk])
        return redirect_page(request, f"{reverse('reauthenticate')}?next={back}")
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _refused(request, pk, "Choose approve or reject.", 400)
    data = form.cleaned_data
    decide = services.approve_request if data["decision"] == "approve" else services.reject_request
    try:
        decided = decide(request.user, pk, data["fingerprint"], data["comment"], AuditSource.WEB)
    except PermissionDenied as error:
        return _refused(request, pk, str(error), 403)
    except services.RequestError as error:
        return _refused(request, pk, str(error), 409 if "already" in str(error) else 400)
    messages.success(request, f"Request #{pk} is {decided.get_status_display().lower()}.")
    return _back_to(request, pk)


@require_POST
@reads(post=[CancelForm])
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _refused(request, pk, " ".join(form_problems(form)), 400)
    comment = form.cleaned_data["comment"]
    try:
        services.cancel_request(request.user, pk, comment, AuditSource.WEB)
    except PermissionDenied as error:
        return _refused(request, pk, str(error), 403)
    except services.RequestError as error:
        return _refused(request, pk, str(error), 400)
    messages.success(request, f"Request #{pk} is cancelled.")
    return _back_to(request, pk)


def _back_to(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect_page(request, reverse("lifecycle:request_detail", args=[pk]))


def _refused(request: HttpRequest, pk: int, message: str, status: int) -> HttpResponse:
    lifecycle_request = LifecycleRequest.objects.filter(pk=pk).first()
    context = {"error": message, "req": lifecycle_request}
    return render(request, "lifecycle/requests/bad_request.html", context, status=status)
