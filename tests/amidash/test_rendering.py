"""One way for every page to answer: whole page or htmx partial, stop polling when finished,
and redirects htmx can follow."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxMiddleware

from amidash.rendering import redirect_page, render_page

TEMPLATES = {"page.html": "<html>page {{ n }}</html>", "part.html": "part {{ n }}"}


@pytest.fixture(autouse=True)
def templates(settings) -> None:
    loader = ("django.template.loaders.locmem.Loader", TEMPLATES)
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {"loaders": [loader]},
        }
    ]


def _request(query: dict[str, str] | None = None, htmx: bool = False) -> HttpRequest:
    headers = {"HX-Request": "true"} if htmx else {}
    request = RequestFactory().get("/somewhere", query or {}, headers=headers)
    HtmxMiddleware(lambda request: HttpResponse())(request)
    return request


def _render(request: HttpRequest, **options: object) -> HttpResponse:
    return render_page(request, "page.html", "part.html", {"n": 3}, **options)


def test_it_renders_the_whole_page_and_keys_caches_on_htmx() -> None:
    response = _render(_request(), status=400)
    assert (response.status_code, response.content) == (400, b"<html>page 3</html>")
    assert "HX-Request" in response["Vary"]


def test_it_renders_only_the_partial_for_htmx() -> None:
    response = _render(_request(htmx=True))
    assert (response.status_code, response.content) == (200, b"part 3")
    assert "HX-Request" in response["Vary"]


def test_it_stops_a_poll_of_something_finished_with_the_final_partial() -> None:
    stopped = _render(_request({"poll": "1"}, htmx=True), finished=True)
    assert (stopped.status_code, stopped.content) == (286, b"part 3")
    assert "HX-Request" in stopped["Vary"]


@pytest.mark.parametrize(
    ("query", "htmx", "finished"),
    [({"poll": "1"}, True, False), ({}, True, True), ({"poll": "1"}, False, True)],
)
def test_it_keeps_polling_or_plain_pages_at_200(query, htmx, finished) -> None:
    assert _render(_request(query, htmx=htmx), finished=finished).status_code == 200


def test_it_redirects_plainly_or_tells_htmx_to() -> None:
    plain = redirect_page(_request(), "/next/")
    assert (plain.status_code, plain["Location"]) == (302, "/next/")
    told = redirect_page(_request(htmx=True), "/next/")
    assert (told.status_code, told["HX-Redirect"]) == (200, "/next/")
