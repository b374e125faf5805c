"""How every dashboard page answers: the whole page, or only its partial for htmx.

Shared by inventory and lifecycle views alike (neither app owns it). htmx requests get their
partial, and caches key on ``HX-Request`` because one URL answers both ways. An htmx poll
(``?poll=1``) of something that has finished gets htmx's stop-polling status with the final
partial, so the element shows the end state and stops asking. Redirects after a POST never send
a 302 to htmx, which would swap the whole target page into the fragment.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling


def render_page(
    request: HttpRequest,
    page_template: str,
    partial_template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    finished: bool = False,
) -> HttpResponse:
    """Render the page, or just its partial when htmx asks; caches must key on HX-Request.

    ``finished`` says the page shows something that will not change any more: an htmx poll
    of it is told to stop polling.
    """
    partial = bool(getattr(request, "htmx", False))
    content = render_to_string(partial_template if partial else page_template, context, request)
    if partial and finished and request.GET.get("poll"):
        response: HttpResponse = HttpResponseStopPolling(content)
    else:
        response = HttpResponse(content, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def redirect_page(request: HttpRequest, url: str) -> HttpResponse:
    """Redirect, or tell htmx to (never a 302 to an htmx request)."""
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)
