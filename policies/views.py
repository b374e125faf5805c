"""Policy pages: the list, the form, a policy with its plans, and a plan with its rows."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from amidash.pagination import BadCursor, SortKey, keyset_page
from amidash.rendering import render_page
from inventory.exports import iter_csv, iter_json
from lifecycle.models import AuditSource
from policies.choices import ACTION_DECISIONS, PlanDecision
from policies.forms import PolicyForm
from policies.models import PlanEntry, Policy, PolicyPlan
from policies.services import policies as services
from policies.services.evaluation import evaluate
from policies.services.plans import evaluate_and_save, plan_entries
from policies.services.proposals import propose

PAGE_SIZE = 50
EXPORT_FIELDS = ["image_id", "account_id", "region", "name", "family", "decision", "reasons"]


def _require_view(request: HttpRequest) -> None:
    services.require_view(request.user)


def _require_edit(request: HttpRequest) -> None:
    if not services.may_edit(request.user):
        raise PermissionDenied("Writing policies needs the Requester role.")


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


@require_GET
def policy_list(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    policies = list(Policy.objects.select_related("updated_by"))
    latest = {}
    for plan in PolicyPlan.objects.order_by("policy_id", "-evaluated_at", "-pk").distinct(
        "policy_id"
    ):
        latest[plan.policy_id] = plan
    rows = [(policy, latest.get(policy.pk)) for policy in policies]
    context = {"rows": rows, "can_edit": services.may_edit(request.user)}
    return render(request, "policies/policy_list.html", context)


@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """GET: the form; POST: save it (a new policy, or a change) and show the policy."""
    _require_edit(request)
    instance = get_object_or_404(Policy, pk=pk) if pk else None
    form = PolicyForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        policy = services.save_policy(request.user, form, AuditSource.WEB)
        messages.success(request, f"Policy {policy.name} is saved.")
        return _redirect(request, reverse("policies:policy_detail", args=[policy.pk]))
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "policy": instance}
    return render(request, "policies/policy_form.html", context, status=status)


@require_POST
def policy_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    _require_edit(request)
    policy = get_object_or_404(Policy, pk=pk)
    enabled = request.POST.get("enabled") == "true"
    services.set_enabled(request.user, policy.pk, enabled, AuditSource.WEB)
    messages.success(request, f"Policy {policy.name} is {'enabled' if enabled else 'disabled'}.")
    return _redirect(request, reverse("policies:policy_detail", args=[policy.pk]))


@require_GET
def policy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request)
    policy = get_object_or_404(Policy.objects.select_related("updated_by"), pk=pk)
    context = {
        "policy": policy,
        "document": policy.document(),
        "plans": policy.plans.all()[:20],
        "can_edit": services.may_edit(request.user),
    }
    return render(request, "policies/policy_detail.html", context)


@require_POST
def policy_evaluate(request: HttpRequest, pk: int) -> HttpResponse:
    """Evaluate now and store the plan (a dry run: nothing is requested)."""
    _require_edit(request)
    policy = get_object_or_404(Policy.objects.select_related("updated_by"), pk=pk)
    _plan, stored = evaluate_and_save(policy, request.user, AuditSource.WEB)
    return _redirect(request, reverse("policies:plan_detail", args=[policy.pk, stored.pk]))


def _plan_of(pk: int, plan_pk: int) -> PolicyPlan:
    return get_object_or_404(PolicyPlan.objects.select_related("policy"), pk=plan_pk, policy=pk)


@require_GET
def plan_detail(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    _require_view(request)
    plan = _plan_of(pk, plan_pk)
    entries, chosen = plan_entries(plan, request.GET)
    notice = ""
    try:
        page = keyset_page(
            entries, SortKey("id", kind="int"), descending=False, size=PAGE_SIZE,
            cursor=request.GET.get("cursor"),
        )  # fmt: skip
    except BadCursor as error:
        notice = str(error)
        page = keyset_page(entries, SortKey("id", kind="int"), descending=False, size=PAGE_SIZE)
    context = _plan_context(request, plan, page, chosen) | {"notice": notice}
    return render_page(
        request, "policies/plan_detail.html", "policies/partials/plan_rows.html", context
    )


def _plan_context(request: HttpRequest, plan: PolicyPlan, page: Any, chosen: dict) -> dict:
    params = request.GET.copy()
    params.pop("cursor", None)
    latest = plan.policy.plans.order_by("-evaluated_at", "-pk").first()
    return {
        "plan": plan,
        "policy": plan.policy,
        "page": page,
        "chosen": chosen,
        "decisions": PlanDecision.choices,
        "families": sorted(plan.totals.get("families", {}).items()),
        "filter_query": params.urlencode(),
        "proposals": plan.proposals.select_related("request"),
        "can_evaluate": services.may_edit(request.user),
        "can_propose": services.may_edit(request.user)
        and plan.proposed_at is None
        and plan.action_count > 0
        and latest == plan,
    }


@require_GET
def plan_export(request: HttpRequest, pk: int, plan_pk: int, export_format: str) -> HttpResponse:
    """The plan's rows, filtered as on the page, streamed as CSV or JSON."""
    _require_view(request)
    if export_format not in ("csv", "json"):
        return HttpResponse("Export format must be csv or json.", status=400)
    plan = _plan_of(pk, plan_pk)
    entries, _chosen = plan_entries(plan, request.GET)
    records = (_record(entry, export_format) for entry in entries.order_by("pk").iterator(2000))
    stream = iter_csv(records, EXPORT_FIELDS) if export_format == "csv" else iter_json(records)
    kind = "text/csv" if export_format == "csv" else "application/json"
    response = StreamingHttpResponse(stream, content_type=f"{kind}; charset=utf-8")
    name = f"amidash-plan-{plan.policy.name}-{plan.pk}.{export_format}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _record(entry: PlanEntry, export_format: str) -> dict[str, Any]:
    reasons: Any = entry.reasons if export_format == "json" else "; ".join(entry.reasons)
    return {
        "image_id": entry.image_ref,
        "account_id": entry.account_id,
        "region": entry.region,
        "name": entry.name,
        "family": entry.family,
        "decision": entry.decision,
        "reasons": reasons,
    }


@require_POST
def plan_propose(request: HttpRequest, pk: int, plan_pk: int) -> HttpResponse:
    """Turn the latest plan into requests; the plan is re-evaluated first so that what is
    requested is what holds now, and stored as the plan the requests name."""
    _require_edit(request)
    stored = _plan_of(pk, plan_pk)
    latest = stored.policy.plans.order_by("-evaluated_at", "-pk").first()
    if stored.proposed_at is not None or latest != stored:
        message = "This plan was proposed already or is not the latest; evaluate again."
        return render(request, "policies/refused.html", {"error": message}, status=409)
    plan = evaluate(stored.policy)
    seen = stored.entries.filter(decision__in=ACTION_DECISIONS).values_list("image_id", "decision")
    made = propose(plan, stored, request.user, AuditSource.WEB, agreed=dict(seen))
    for error in stored.proposal_errors:
        messages.error(request, f"Not proposed: {error}")
    if made:
        numbers = ", ".join(f"#{r.pk}" for r in made)
        messages.success(request, f"Proposed {len(made)} request(s): {numbers}.")
    return _redirect(request, reverse("policies:plan_detail", args=[pk, plan_pk]))
