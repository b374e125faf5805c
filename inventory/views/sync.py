"""Sync runs: the list, one run's per account+Region results (live while running), Sync now."""

from __future__ import annotations

from collections import Counter

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from amidash.fields import PageForm, form_problems, reads
from amidash.rendering import redirect_page, render_page
from inventory.choices import FINAL_REGION_STATES, OptInStatus, RegionSyncStatus
from inventory.forms import SyncNowForm
from inventory.models import Account, AccountRegion, SyncRun

RUNS_PER_PAGE = 25
SYNC_PERMISSION = "inventory.sync"


def _sync_runs_page(request: HttpRequest, form: SyncNowForm, status: int = 200) -> HttpResponse:
    """The runs, newest first, and the Sync now form; a bad page number is named (400)."""
    runs = SyncRun.objects.order_by("-created_at")
    pages = PageForm(request.GET)
    if not pages.is_valid():
        status = 400
    page = Paginator(runs, RUNS_PER_PAGE).get_page(pages.cleaned_data.get("page"))
    context = {
        "notices": form_problems(pages),
        "page": page,
        "running": [run for run in page.object_list if not run.is_finished],
        "can_sync": request.user.has_perm(SYNC_PERMISSION),
        "sync_form": form,
        "accounts": Account.objects.visible_to(request.user)
        .filter(enabled=True)
        .only("account_id", "name"),
        "regions": AccountRegion.objects.visible_to(request.user)
        .filter(synced=True)
        .exclude(opt_in_status=OptInStatus.NOT_OPTED_IN)
        .order_by("region")
        .values_list("region", flat=True)
        .distinct(),
    }
    return render_page(
        request,
        "inventory/sync_runs.html",
        "inventory/partials/sync_runs_body.html",
        context,
        status=status,
    )


@require_GET
@reads(query=[PageForm])
def sync_runs(request: HttpRequest) -> HttpResponse:
    return _sync_runs_page(request, SyncNowForm())


@require_GET
def sync_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run, with the account+Region results of the accounts the user may see."""
    run = get_object_or_404(SyncRun, pk=pk)
    results = (
        run.results.visible_to(request.user)
        .select_related("account")
        .order_by("account__account_id", "region")
    )
    rows = list(results)
    done = sum(1 for row in rows if row.status in FINAL_REGION_STATES)
    skipped = [row for row in rows if row.status == RegionSyncStatus.SKIPPED]
    context = {
        "run": run,
        "results": [row for row in rows if row.status != RegionSyncStatus.SKIPPED],
        "skipped": skipped,
        "skip_reasons": Counter(row.error or "skipped" for row in skipped).most_common(),
        "progress_done": done,
        "progress_total": max(run.regions_total, len(rows)),
    }
    return render_page(
        request,
        "inventory/sync_run_detail.html",
        "inventory/partials/sync_run_body.html",
        context,
        finished=run.is_finished,
    )


@require_POST
@reads(post=[SyncNowForm])
def sync_now(request: HttpRequest) -> HttpResponse:
    """Start a sync as the signed-in user (permission ``inventory.sync``)."""
    if not request.user.has_perm(SYNC_PERMISSION):
        raise PermissionDenied("You may not start a sync.")
    form = SyncNowForm(request.POST)
    if not form.is_valid():
        return _sync_runs_page(request, form, status=400)
    from inventory.services.sync import SyncScopeError, start_sync

    account = form.cleaned_data["account"]
    region = form.cleaned_data["region"]
    try:
        run = start_sync(
            request.user,
            account_ids=[account] if account else None,
            regions=[region] if region else None,
            source="web",
        )
    except SyncScopeError as error:
        form.add_error(None, str(error))
        return _sync_runs_page(request, form, status=400)
    messages.success(request, f"Sync #{run.pk} started.")
    return redirect_page(request, reverse("inventory:sync_run_detail", args=[run.pk]))
