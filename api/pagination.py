"""Cursor pages for the API, on the keyset pagination the pages use (``amidash.pagination``):
``{count, count_is_bound, next, previous, results}``, ordered by a sort key then primary key,
so a page never skips or repeats a row while rows are added.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from amidash.pagination import BadCursor, KeysetPage, SortKey, keyset_page
from api.problems import BadInput
from inventory.forms import PAGE_SIZES

#: Lists other than images are ordered newest first by primary key.
NEWEST = SortKey("pk", kind="int")
DEFAULT_SIZE = 50


class PageForm(forms.Form):
    """``size`` (one of the page sizes the image list offers) and an opaque ``cursor``."""

    size = forms.TypedChoiceField(
        required=False, choices=[(n, n) for n in PAGE_SIZES], coerce=int, empty_value=None
    )
    cursor = forms.CharField(required=False, max_length=1000)


def checked(form: forms.Form) -> dict[str, Any]:
    """The form's cleaned data, or BadInput naming every field that is not valid."""
    if not form.is_valid():
        raise BadInput({name: list(errors) for name, errors in form.errors.items()})
    return form.cleaned_data


def page_of(
    request: Request, queryset: QuerySet, key: SortKey = NEWEST, *, descending: bool = True
) -> KeysetPage:
    data = checked(PageForm(request.query_params))
    try:
        return keyset_page(
            queryset,
            key,
            descending=descending,
            size=data["size"] or DEFAULT_SIZE,
            cursor=data["cursor"] or None,
        )
    except BadCursor as error:
        raise BadInput(str(error), "cursor") from None


def link(request: Request, **replace: Any) -> str:
    params = request.query_params.copy()
    for name, value in replace.items():
        params[name] = str(value)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def page_response(request: Request, page: KeysetPage, results: list[Any]) -> Response:
    return Response(
        {
            "count": page.total,
            "count_is_bound": page.total_is_bound,
            "next": link(request, cursor=page.next_cursor) if page.next_cursor else None,
            "previous": link(request, cursor=page.previous_cursor)
            if page.previous_cursor
            else None,
            "results": results,
        }
    )
