"""The image list (filters, sort, columns, keyset pages, selection), its export, and detail."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from amidash.fields import reads
from amidash.pagination import BadCursor, keyset_page
from amidash.rendering import redirect_page, render_page
from inventory.choices import UsageType
from inventory.exports import FORMATS, stream_export
from inventory.filtersets import (
    COLUMNS,
    DEFAULT_SORT,
    ImageListForm,
    filter_images,
    image_conditions,
    image_list_queryset,
    parse_image_query,
    render_row,
)
from inventory.forms import PAGE_SIZES, ImageFilterForm
from inventory.lineage import family_tree
from inventory.models import Image, ImageFindings
from inventory.queries import image_list_total
from inventory.registry import ImageAction, image_actions
from inventory.services import consumers


def _action_forms(actions: list[ImageAction]) -> list[tuple[str, list[ImageAction]]]:
    """The image page's action forms: a target URL and its buttons."""
    return [(reverse(name), group) for name, group in image_actions.grouped(actions)]


def _sort_links(query_params: Any, current: str) -> dict[str, dict[str, str]]:
    """For each sortable column: the query string that sorts by it and the aria-sort value.

    A first click sorts numbers and times from the largest or newest, text from A; a second
    click on the sorted column reverses it.
    """
    links = {}
    for column in COLUMNS:
        if not column.sort:
            continue
        params = query_params.copy()
        params.pop("cursor", None)
        first = f"-{column.key}" if column.sort.kind != "str" else column.key
        reverse = first[1:] if first.startswith("-") else f"-{first}"
        params["sort"] = reverse if current == first else first
        state = "none"
        if current.lstrip("-") == column.key:
            state = "descending" if current.startswith("-") else "ascending"
        links[column.key] = {"query": params.urlencode(), "aria": state}
    return links


def _page_query(params: Any, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    params = params.copy()
    params["cursor"] = cursor
    return params.urlencode()


@require_GET
@reads(query=[ImageFilterForm, ImageListForm])
def image_list(request: HttpRequest) -> HttpResponse:
    """The filtered table; what was not understood is named above it and answered with 400."""
    query = parse_image_query(request.GET, request.user)
    now = timezone.now()
    conditions = image_conditions(query.filters, now)
    images = image_list_queryset(request.user).filter(conditions)
    total = image_list_total(conditions, now, request.user)
    shown = {"descending": query.descending, "size": query.page_size, "total": total}
    try:
        page = keyset_page(images, query.sort_key, cursor=query.cursor, **shown)
    except BadCursor as error:
        query.notices.append(str(error))
        page = keyset_page(images, query.sort_key, **shown)
    params = request.GET.copy()
    first = params.copy()
    first.pop("cursor", None)
    links = _sort_links(first, query.sort)
    export_params = first.copy()
    for name in ("sort", "size", "col"):
        export_params.pop(name, None)
    action_url_name, actions = image_actions.selection()
    context = {
        "query": query,
        "form": query.form,
        "page": page,
        "rows": [(image, render_row(image, query.columns)) for image in page.rows],
        "columns": query.columns,
        "column_keys": {column.key for column in query.columns},
        "all_columns": COLUMNS,
        "page_sizes": PAGE_SIZES,
        "sort": query.sort,
        "default_sort": DEFAULT_SORT,
        "headers": [(c, links.get(c.key)) for c in query.columns],
        "next_query": _page_query(params, page.next_cursor),
        "previous_query": _page_query(params, page.previous_cursor),
        "first_query": first.urlencode() if query.cursor else None,
        "export_query": export_params.urlencode(),
        "request_url": reverse(action_url_name) if action_url_name else "",
        "can_request": bool(image_actions.allowed(request.user, actions)),
        "actions": actions,
        "filtered": bool(query.filters),
    }
    return render_page(
        request,
        "inventory/image_list.html",
        "inventory/partials/image_results.html",
        context,
        status=200 if query.is_valid else 400,
    )


@require_GET
@reads(query=[ImageFilterForm])
def image_export(request: HttpRequest, export_format: str) -> HttpResponse:
    """Export exactly the filtered rows, streamed; invalid filters are refused, not ignored."""
    if export_format not in FORMATS:
        return _plain_400("Export format must be csv or json.")
    query = parse_image_query(request.GET, request.user)
    if query.form.errors:
        return _plain_400("Cannot export: " + "; ".join(query.form.problems()))
    images = filter_images(Image.objects.visible_to(request.user), query.filters)
    content_type = "text/csv" if export_format == "csv" else "application/json"
    response = StreamingHttpResponse(
        stream_export(export_format, images, request.user),
        content_type=f"{content_type}; charset=utf-8",
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = (
        f'attachment; filename="amidash-images-{stamp}.{export_format}"'
    )
    return response


def _plain_400(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _detail_text(detail: dict[str, Any]) -> str:
    """A usage's detail as "key: value · key: value", lists joined by commas."""
    parts = []
    for key, value in detail.items():
        if isinstance(value, list | tuple):
            value = ", ".join(str(item) for item in value)
        if value not in (None, ""):
            parts.append(f"{key.replace('_', ' ')}: {value}")
    return " · ".join(parts)


def _usage_groups(image: Image, user: Any) -> list[tuple[str, list[Any]]]:
    """What uses the image, in the accounts ``user`` may see (a shared image's users in other
    accounts are theirs to see)."""
    groups: dict[str, list[Any]] = defaultdict(list)
    usages = image.usages.visible_to(user).order_by("usage_type", "region", "resource_id")
    for usage in usages:
        usage.detail_text = _detail_text(usage.detail if isinstance(usage.detail, dict) else {})
        groups[usage.usage_type].append(usage)
    labels = dict(UsageType.choices)
    return [(labels.get(kind, kind), rows) for kind, rows in groups.items()]


def _related_images(image: Image, user: Any) -> dict[str, Any]:
    """Its source (when it is a copy) and its copies in any Region, in the accounts ``user`` may
    see (two indexed queries)."""
    visible = Image.objects.visible_to(user)
    source = None
    if image.source_image_id:
        source = visible.filter(image_id=image.source_image_id).select_related("account").first()
    copies = list(
        visible.filter(source_image_id=image.image_id)
        .select_related("account")
        .order_by("region", "image_id")[:100]
    )
    return {"source": source, "copies": copies}


def _consumers(image: Image, user: Any) -> dict[str, Any]:
    """The image's consumers in other accounts, per its latest usage report."""
    return {
        "consumers": list(image.consumers.all()),
        "latest_report": image.consumer_reports.first(),
        "can_report": user.has_perm(consumers.REPORT_PERMISSION)
        and not image.is_gone
        and (image.public or bool(image.shared_with)),
        "max_report_age": settings.CONSUMER_REPORT_MAX_AGE_HOURS,
    }


@require_POST
def image_consumer_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for a usage report of one image (the sync right); the card says it is on its way."""
    image = get_object_or_404(Image.objects.visible_to(request.user), pk=pk)
    try:
        consumers.ask_for_report(request.user, image)
    except consumers.ReportRefused as error:
        return HttpResponse(str(error), status=400, content_type="text/plain")
    messages.success(request, f"Usage report of {image.image_id} requested.")
    if getattr(request, "htmx", False):
        context = {"image": image, **_consumers(image, request.user), "report_requested": True}
        return render(request, "inventory/partials/image_consumers.html", context)
    return redirect_page(request, reverse("inventory:image_detail", args=[image.pk]))


@require_GET
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One image of the accounts the user may see; any other answers 404, like a missing one."""
    visible = Image.objects.visible_to(request.user)
    image = get_object_or_404(visible.select_related("account", "account_region"), pk=pk)
    actions = image_actions.for_image(image)
    allowed = image_actions.allowed(request.user, actions)
    context = {
        "image": image,
        "usage_groups": _usage_groups(image, request.user),
        "timeline_url": reverse("lifecycle:image_timeline", args=[image.pk]),
        "can_request": bool(allowed),
        "action_forms": _action_forms(allowed),
        "actions": actions,
        "tags": sorted(image.tags.items()) if isinstance(image.tags, dict) else [],
        **_related_images(image, request.user),
        **_consumers(image, request.user),
        "family_tree": family_tree(image, request.user),
        "findings": ImageFindings.objects.filter(image=image).first(),
    }
    return render_page(
        request, "inventory/image_detail.html", "inventory/partials/image_detail_body.html", context
    )
