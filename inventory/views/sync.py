"""Sync runs: the list, one run's per account+Region results (live while running), Sync now."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from amidash.fields import PageForm, form_problems, reads
from amidash.pagination import Position, SortKey, keyset_rows
from amidash.rendering import redirect_page, render_page
from inventory.choices import FINAL_REGION_STATES, OptInStatus, RegionSyncStatus
from inventory.forms import ResultCursorForm, SyncNowForm
from inventory.models import Account, AccountRegion, SyncRun

RUNS_PER_PAGE = 25
#: A run of a thousand accounts has 17,000 results: they are paged by id (created in account
#: and Region order), each page costing the same.
RESULTS_PER_PAGE = 100
RESULT_ORDER = SortKey("id", kind="int")
#: Skipped Regions are summed up by reason; this many are named.
SKIPPED_SHOWN = 200
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
@reads(query=[ResultCursorForm])
def sync_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run, with a page of the account+Region results of the accounts the user may see; a
    page link that does not read is named and the first page shown (400)."""
    run = get_object_or_404(SyncRun, pk=pk)
    cursors = ResultCursorForm(request.GET)
    valid = cursors.is_valid()
    visible = run.results.visible_to(request.user)
    page = keyset_rows(
        visible.exclude(status=RegionSyncStatus.SKIPPED).select_related("account"),
        RESULT_ORDER,
        descending=False,
        size=RESULTS_PER_PAGE,
        position=_result_position(cursors.cleaned_data if valid else {}),
    )
    counts = dict(visible.order_by().values_list("status").annotate(n=Count("id")))
    context = {
        "run": run,
        "notices": form_problems(cursors),
        "results": page.rows,
        "next_query": _page_link(request, "after", page.rows[-1].pk if page.next_cursor else None),
        "previous_query": _page_link(
            request, "before", page.rows[0].pk if page.previous_cursor else None
        ),
        "poll_query": _page_query(request, {}) if valid else "",
        **_skipped(visible, counts.get(RegionSyncStatus.SKIPPED, 0)),
        "progress_done": sum(n for status, n in counts.items() if status in FINAL_REGION_STATES),
        "progress_total": max(run.regions_total, sum(counts.values())),
    }
    return render_page(
        request,
        "inventory/sync_run_detail.html",
        "inventory/partials/sync_run_body.html",
        context,
        status=200 if valid else 400,
        finished=run.is_finished,
    )


def _result_position(cursor: dict[str, Any]) -> Position | None:
    """``after=N`` pages on from result N, ``before=N`` back to it; neither: the first page."""
    if cursor.get("after") is not None:
        return Position("a", cursor["after"], cursor["after"])
    if cursor.get("before") is not None:
        return Position("b", cursor["before"], cursor["before"])
    return None


def _page_link(request: HttpRequest, name: str, result_id: int | None) -> str | None:
    """The query string of the page after or before a result (None: no such page)."""
    if result_id is None:
        return None
    return _page_query(request, {name: str(result_id)})


def _page_query(request: HttpRequest, cursor: dict[str, str]) -> str:
    query = request.GET.copy()
    for key in ("after", "before", "poll"):
        query.pop(key, None)
    if not cursor:  # the page shown now, as the poll reloads it
        cursor = {k: request.GET[k] for k in ("after", "before") if k in request.GET}
    query.update(cursor)
    return query.urlencode()


def _skipped(results: Any, total: int) -> dict[str, Any]:
    """The skipped Regions in one line: how many for each reason, and the first of them."""
    skipped = results.filter(status=RegionSyncStatus.SKIPPED)
    reasons = skipped.order_by().values_list("error").annotate(n=Count("id")).order_by("-n")
    return {
        "skipped": list(skipped.select_related("account").order_by("pk")[:SKIPPED_SHOWN]),
        "skipped_total": total,
        "skip_reasons": [(error or "skipped", n) for error, n in reasons],
    }


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
