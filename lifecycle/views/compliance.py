"""The Allowed AMIs compliance page: each Region's setting, the instances running images that
are (enabled) or would be (audit mode) disallowed, the simulator, and proposing a change.

Reads PostgreSQL only (what the last sync read); the rule is ``inventory.allowed_images``'s,
the scope ``amidash.scope``'s (through ``settings_in_scope``), and a proposal becomes a request
only through ``request_allowed_images_change``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from amidash.fields import form_problems, reads
from amidash.rendering import redirect_page, render_page
from inventory.forms import CriteriaForm
from inventory.models import AllowedImagesSetting
from inventory.services.allowed_images import evaluate, settings_in_scope
from lifecycle.actions.allowed_images import POLICY_MANAGED, describe_criterion
from lifecycle.exceptions import RequestError
from lifecycle.forms import AllowedImagesRequestForm
from lifecycle.models import AuditSource
from lifecycle.services.allowed_images import request_allowed_images_change
from lifecycle.services.requests import may_request


def _chosen(
    settings: list[AllowedImagesSetting], region_pk: int | None
) -> list[AllowedImagesSetting] | None:
    """Every setting in scope, or the one asked for (None if it is not among them)."""
    if region_pk is None:
        return settings
    chosen = [s for s in settings if s.account_region_id == region_pk]
    return chosen or None


def _simulate(form: CriteriaForm, settings: list[AllowedImagesSetting]) -> Any:
    chosen = _chosen(settings, form.cleaned_data["region"])
    if chosen is None:
        form.add_error("region", "Choose an account and Region you may see.")
        return None
    return evaluate(chosen, form.cleaned_data["criteria"])


@require_GET
@reads(query=[CriteriaForm])
def compliance(request: HttpRequest) -> HttpResponse:
    """The page; with ``simulate`` in the query, the simulator's answer too (its partial for
    htmx). Criteria AWS would refuse are named, with a 400."""
    settings = list(settings_in_scope(request.user))
    simulating = "simulate" in request.GET
    form = CriteriaForm(request.GET if simulating else None)
    simulation = _simulate(form, settings) if simulating and form.is_valid() else None
    chosen = None
    if simulation is not None and form.cleaned_data["region"]:
        chosen = _chosen(settings, form.cleaned_data["region"])[0]
    context = {
        "settings": settings,
        "form": form,
        "simulating": simulating,
        "simulation": simulation,
        "target": chosen,
        "proposal": _proposal_form(request, chosen, form),
        "policy_managed": POLICY_MANAGED,
    }
    if not getattr(request, "htmx", False):
        context["current"] = evaluate(settings)
        for setting in settings:
            setting.summary = [describe_criterion(c) for c in setting.criteria]
    status = 400 if simulating and simulation is None else 200
    return render_page(
        request,
        "lifecycle/compliance.html",
        "lifecycle/partials/simulation.html",
        context,
        status=status,
    )


def _proposal_form(
    request: HttpRequest, chosen: AllowedImagesSetting | None, form: CriteriaForm
) -> AllowedImagesRequestForm | None:
    """The form that proposes the simulated criteria for the one Region simulated."""
    if chosen is None or chosen.is_policy_managed or not may_request(request.user):
        return None
    initial = {name: form.data.get(name) for name in form.fields}
    initial["state"] = chosen.state
    return AllowedImagesRequestForm(initial=initial)


@require_POST
@reads(post=[AllowedImagesRequestForm])
def allowed_images_request(request: HttpRequest) -> HttpResponse:
    """Propose an Allowed AMIs change: a pending request another person must approve."""
    if not may_request(request.user):
        raise PermissionDenied("Requesting lifecycle actions needs the Requester role.")
    form = AllowedImagesRequestForm(request.POST)
    if not form.is_valid():
        return _refused(request, " ".join(form_problems(form)), 400)
    data = form.cleaned_data
    try:
        created = request_allowed_images_change(
            request.user,
            data["region"],
            {"state": data["state"], "criteria": data["criteria"]},
            data["reason"],
            AuditSource.WEB,
            ticket=data["ticket"],
        )
    except PermissionDenied as error:
        return _refused(request, str(error), 403)
    except RequestError as error:
        return _refused(request, str(error), 400)
    messages.success(request, f"Request #{created.pk} is waiting for approval.")
    return redirect_page(request, reverse("lifecycle:request_detail", args=[created.pk]))


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "lifecycle/requests/bad_request.html", {"error": message}, status=status)
