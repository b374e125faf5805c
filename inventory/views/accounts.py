"""Accounts and their Regions: opt-in, last sync, the last error of each Region."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from amidash.rendering import render_page
from inventory.models import Account, AccountRegion, SyncRegionResult
from inventory.queries import current_images_by_account


def _last_results(user: Any) -> dict[tuple[int, str], SyncRegionResult]:
    """The latest result of every account+Region ``user`` may see, in one DISTINCT ON query."""
    latest = (
        SyncRegionResult.objects.visible_to(user)
        .order_by("account_id", "region", "-sync_run_id")
        .distinct("account_id", "region")
        .only(
            "account_id", "region", "status", "error", "finished_at", "sync_run_id", "images_seen"
        )
    )
    return {(result.account_id, result.region): result for result in latest}


@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    """The accounts the user may see (deny by default: none without scope)."""
    accounts = Account.objects.visible_to(request.user).order_by("name", "account_id")
    image_counts = current_images_by_account(request.user)
    regions = defaultdict(list)
    last = _last_results(request.user)
    for region in AccountRegion.objects.visible_to(request.user).order_by("account_id", "region"):
        region.last_result = last.get((region.account_id, region.region))
        regions[region.account_id].append(region)
    rows = []
    for account in accounts:
        account.image_count = image_counts.get(account.pk, 0)
        rows.append(_account_row(account, regions.get(account.pk, [])))
    return render_page(
        request,
        "inventory/account_list.html",
        "inventory/partials/account_list_body.html",
        {"rows": rows},
    )


@dataclass
class AccountRow:
    """An account, the Regions it can use (a row each) and the ones it has not opted in to."""

    account: Account
    regions: list[AccountRegion]
    skipped: list[AccountRegion]
    outcomes: Counter[str]


def _account_row(account: Account, regions: list[AccountRegion]) -> AccountRow:
    usable = [region for region in regions if region.is_opted_in]
    outcomes = Counter(region.last_result.status for region in usable if region.last_result)
    skipped = [region for region in regions if not region.is_opted_in]
    return AccountRow(account, usable, skipped, outcomes)
