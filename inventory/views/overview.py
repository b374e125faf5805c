"""The overview: what exists, what it costs, what is risky, how syncs went."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from amidash.fields import form_problems, reads
from amidash.rendering import render_page
from inventory import charts, queries
from inventory.choices import ImageBucket
from inventory.filtersets import BUCKET_FILTERS, BUCKET_TONES
from inventory.forms import CLEANUP_CHOICES, DEFAULT_CLEANUP_DAYS, OverviewForm
from inventory.models import AGE_BUCKETS

#: What other apps add to the cleanup card: functions of the signed-in user returning
#: ``{"template": ..., ...}`` (the template's context) or None. Apps register in ready(); the
#: inventory never names them.
CLEANUP_PANELS: list[Callable[[Any], dict[str, Any] | None]] = []


def register_cleanup_panel(panel: Callable[[Any], dict[str, Any] | None]) -> None:
    if panel not in CLEANUP_PANELS:
        CLEANUP_PANELS.append(panel)


def _cleanup_panels(user: Any) -> list[dict[str, Any]]:
    return [found for found in (panel(user) for panel in CLEANUP_PANELS) if found]


def _images_url(**filters: Any) -> str:
    return f"{reverse('inventory:image_list')}?{urlencode(filters)}"


def _cleanup_days(request: HttpRequest) -> tuple[int, str]:
    """The clean-up age asked for, or the default and a notice saying why (a bad value)."""
    form = OverviewForm(request.GET)
    if not form.is_valid():
        problems = " ".join(form_problems(form))
        return DEFAULT_CLEANUP_DAYS, f"{problems} The overview is showing {DEFAULT_CLEANUP_DAYS}."
    return form.cleaned_data["older_than"] or DEFAULT_CLEANUP_DAYS, ""


def _price() -> Decimal:
    return Decimal(str(settings.STORAGE_PRICE_PER_GB_MONTH))


def _age_url(low: int, high: int | None) -> str:
    """The image list of one age bucket: the list's "age to" is inclusive, the bucket's end not."""
    if high is None:
        return _images_url(gone="no", min_age=low)
    return _images_url(gone="no", min_age=low, max_age=high - 1)


def _charts(totals: dict[str, Any]) -> dict[str, Any]:
    states = [
        charts.Bar(
            bucket.label,
            totals[f"state_{bucket.value}"],
            BUCKET_TONES[bucket],
            _images_url(**BUCKET_FILTERS[bucket]) if bucket in BUCKET_FILTERS else "",
        )
        for bucket in ImageBucket
    ]
    ages = [
        charts.Bar(label, totals[f"age_{index}"], "accent", _age_url(low, high))
        for index, (label, low, high) in enumerate(AGE_BUCKETS)
    ]
    usage = [
        charts.Bar("In use", totals["in_use_count"], "ok"),
        charts.Bar("Unused", totals["unused_count"], "warn"),
    ]
    return {
        "state_chart": charts.horizontal_bars(states, "Images by state"),
        "age_chart": charts.column_chart(ages, "Age of current images"),
        "usage_chart": charts.proportion_bar(usage, "Current images in use and unused"),
    }


def _with_heat(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tint strength (0-35 %, in steps of 5) of each grid cell relative to the grid's largest.

    Steps, because the tint is a CSS class (``heat-15``): the Content-Security-Policy allows
    no inline style attributes.
    """
    buckets = ("state_available", "state_deprecated", "state_disabled")
    peak = max((row[name] for row in rows for name in buckets), default=0) or 1
    for row in rows:
        for name in buckets:
            row[f"heat_{name.removeprefix('state_')}"] = 5 * round(row[name] / peak * 7)
    return rows


@require_GET
@reads(query=[OverviewForm])
def overview(request: HttpRequest) -> HttpResponse:
    """The estate at a glance; a bad clean-up age is named on the page (400)."""
    now = timezone.now()
    cleanup_days, notice = _cleanup_days(request)
    figures = queries.estate_figures(now, cleanup_days, request.user)
    totals = figures.totals
    latest, failed = queries.latest_run_with_failures(request.user)
    price = _price()
    context = {
        "totals": totals,
        "monthly_cost": (price * totals["storage_total"]).quantize(Decimal("0.01")),
        "cleanup_days": cleanup_days,
        "cleanup_choices": CLEANUP_CHOICES,
        "cleanup_cost": (price * totals["cleanup_gib"]).quantize(Decimal("0.01")),
        "cleanup_url": _images_url(in_use="no", min_age=cleanup_days, gone="no"),
        "price": price,
        "regions": _with_heat(figures.regions),
        "accounts": figures.accounts,
        "latest_run": latest,
        "failed_results": failed,
        "notice": notice,
        "has_images": totals["current"] or totals["state_gone"],
        "cleanup_panels": _cleanup_panels(request.user),
        "findings": queries.findings_summary(totals),
        **_charts(totals),
    }
    return render_page(
        request,
        "inventory/overview.html",
        "inventory/partials/overview_body.html",
        context,
        status=400 if notice else 200,
    )


@require_GET
def overview_trend(request: HttpRequest) -> HttpResponse:
    """The trend over the last sync runs, from their estate snapshots; loaded after the overview."""
    points = queries.trend_points(queries.recent_runs(), request.user)
    labels = [timezone.localtime(p["run"].finished_at).strftime("%b %d %H:%M") for p in points]
    images = [
        charts.Series("Images", [p["present"] for p in points], "accent"),
        charts.Series("Gone (total)", [p["gone"] for p in points], "bad"),
    ]
    storage = [charts.Series("Storage GiB", [p["storage"] for p in points], "warn")]
    context = {
        "points": points,
        "images_chart": charts.trend_chart(labels, images, "Images at each sync run"),
        "storage_chart": charts.trend_chart(labels, storage, "Storage GiB at each sync run"),
    }
    return render_page(
        request, "inventory/overview_trend.html", "inventory/partials/overview_trend.html", context
    )
