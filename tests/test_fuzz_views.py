"""Every page of the URLconf, sent hostile input by every role: never a 5xx, and a refused POST
writes nothing (invariant 7).

The URLs come from the resolver, the parameters from the forms each view names with
``amidash.fields.reads`` (or a class view's ``form_class``): a new page or field is fuzzed
without editing this file. FUZZ_EXAMPLES raises the examples per URL for a long run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django import forms
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.models import Account, Image, SyncRun
from lifecycle.models import (
    Approval,
    AuditEvent,
    AuditVerb,
    AuditVerification,
    LifecycleRequest,
    RequestItem,
)
from tests.factories import create_image, create_lifecycle_request, create_sync_run

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SKIPPED_NAMESPACES = {"admin"}  # Django's own admin, tested by Django
TABLES = [
    Account,
    Image,
    SyncRun,
    LifecycleRequest,
    RequestItem,
    Approval,
    AuditEvent,
    AuditVerification,
    User,
]
ROLES = ["anonymous", "viewer", "requester", "approver", "auditor", "admin_user"]
WRONG_METHODS = ["put", "patch", "delete", "options"]
_CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Endpoint:
    """A URL pattern of the URLconf and the view answering it."""

    route: str
    view: Any

    @property
    def query_fields(self) -> dict[str, forms.Field]:
        return _fields(getattr(self.view, "query_forms", ()))

    @property
    def post_fields(self) -> dict[str, forms.Field]:
        form_class = getattr(getattr(self.view, "view_class", None), "form_class", None)
        named = getattr(self.view, "post_forms", ())
        return _fields([*named, *([form_class] if form_class else [])])


def _fields(form_classes: Any) -> dict[str, forms.Field]:
    return {
        name: field
        for form in form_classes
        for name, field in (
            form.every_field() if hasattr(form, "every_field") else form.base_fields
        ).items()
    }


def endpoints(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[Endpoint]:
    """Every URL pattern below ``resolver``, with the routes of its includes joined."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace not in SKIPPED_NAMESPACES:
                yield from endpoints(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield Endpoint(prefix + str(entry.pattern), entry.callback)


ENDPOINTS = sorted(endpoints(), key=lambda endpoint: endpoint.route)

# Values that broke pages once, or could: Unicode digits, numbers past bigint, the ends of the
# calendar, control characters, very long text; then anything at all.
NASTY = [
    "²", "\u0663", "\uff11\uff12", "-1", "0", "1", "1.0", "1e3", "0x1f", str(2**63 - 1),
    str(2**63), "-" + str(2**63 + 1), "9" * 40, "0001-01-01", "1969-12-31", "2999-12-31",
    "3000-01-01", "9999-12-31", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00+14:00",
    "\x00", "a\x00b", "\x1b[2J", "\u202eevil", "\r\n", "x" * 5000, "", " ", "yes", "on",
    "ami-0123456789abcdef0", "123456789012", "us-east-1", "us-east-1\n", "mars-1; drop",
    "deprecate", "approve", "-name", "csv", "../../etc/passwd", "%00", "null", "[]", "{}",
]  # fmt: skip
text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)
hostile = st.one_of(
    st.sampled_from(NASTY),
    text,
    st.from_regex(r"\A-?[0-9]{1,25}\Z"),
    st.dates().map(str),
    st.datetimes().map(lambda moment: moment.isoformat()),
)


def _values(field: forms.Field) -> st.SearchStrategy[str]:
    """Hostile values, and now and then one the field offers (to reach deeper code)."""
    offered = [str(value) for value, _label in getattr(field, "choices", []) or []]
    return st.one_of(hostile, st.sampled_from(offered)) if offered else hostile


@st.composite
def parameters(draw: st.DrawFn, fields: dict[str, forms.Field]) -> list[tuple[str, str]]:
    """Some of the fields (missing ones left out), a key now and then repeated, a stray key."""
    names = draw(st.lists(st.sampled_from(sorted(fields)), max_size=8)) if fields else []
    pairs = [(name, draw(_values(fields[name]))) for name in names]
    if draw(st.booleans()):
        pairs.append(
            (
                draw(st.sampled_from(["page", "poll", "cursor", "x", "csrfmiddlewaretoken"])),
                draw(hostile),
            )
        )
    return pairs


@st.composite
def paths(draw: st.DrawFn, route: str, ids: list[int]) -> str:
    def fill(match: re.Match[str]) -> str:
        if match["kind"] in ("int", "id"):
            value = draw(
                st.one_of(st.sampled_from(ids), st.sampled_from(["0", str(2**63), "9" * 30]))
            )
        else:
            value = draw(st.one_of(st.sampled_from(["csv", "json", "jsonl", "pdf"]), text))
        return quote(str(value), safe="")

    return "/" + _CONVERTER.sub(fill, route)


@pytest.fixture
def clients(request, db) -> dict[str, tuple[Client, Client]]:
    """Per role, a client and one that checks CSRF tokens; both return a 500 as a response."""
    found = {}
    for role in ROLES:
        user = None if role == "anonymous" else request.getfixturevalue(role)
        pair = (
            Client(raise_request_exception=False),
            Client(raise_request_exception=False, enforce_csrf_checks=True),
        )
        for client in pair:
            if user is not None:
                client.force_login(user)
        found[role] = pair
    return found


@pytest.fixture
def ids(db, requester) -> list[int]:
    """The primary keys that exist (an image, a request, a sync run, audit events)."""
    image = create_image()
    lifecycle_request = create_lifecycle_request(requester)
    run = create_sync_run()
    sequence = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    return sorted({image.pk, lifecycle_request.pk, run.pk, sequence or 1})


#: What a refused sign-in is meant to write: the audit log's record of the failure or lockout.
SIGN_IN_RECORDS = [AuditVerb.AUTH_LOGIN_FAILED, AuditVerb.AUTH_LOCKED_OUT]


def _counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in TABLES}
    counts["AuditEvent"] = AuditEvent.objects.exclude(verb__in=SIGN_IN_RECORDS).count()
    return counts


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.route or "/")
@override_settings(DEBUG=False)
def test_it_never_answers_hostile_input_with_a_server_error(
    endpoint: Endpoint, clients, ids
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        role=st.sampled_from(ROLES),
        path=paths(endpoint.route, ids),
        query=parameters(endpoint.query_fields),
        body=parameters(endpoint.post_fields or endpoint.query_fields),
        method=st.sampled_from(["get", "get", "post", "post", "csrf", *WRONG_METHODS]),
        htmx=st.booleans(),
    )
    def fuzz(role, path, query, body, method, htmx) -> None:
        client, csrf_client = clients[role]
        headers = {"HX-Request": "true"} if htmx else {}
        url = f"{path}?{urlencode(query)}"
        before = _counts()
        if method == "get":
            response = client.get(url, headers=headers)
        elif method in ("post", "csrf"):
            sender = csrf_client if method == "csrf" else client
            response = sender.post(
                path,
                urlencode(body),
                content_type="application/x-www-form-urlencoded",
                headers=headers,
            )
        else:
            response = getattr(client, method)(url, headers=headers)
        assert response.status_code < 500, (role, method, url, body)
        if method == "csrf":  # refused, sent to sign in, no such page or method, or the API's 401
            allowed = (302, 401, 403, 404, 405)
            assert response.status_code in allowed, (role, path, response.status_code)
        if method == "csrf" or (method != "get" and response.status_code >= 400):
            assert _counts() == before, (role, method, url, body)

    fuzz()


def test_it_finds_the_forms_of_the_pages() -> None:
    """The walk reaches the apps' pages and the forms they name (so the fuzz is not empty)."""
    routes = {endpoint.route: endpoint for endpoint in ENDPOINTS}
    assert {"images/", "audit/", "requests/new/", "sync/start/"} <= set(routes)
    assert {"size", "sort", "min_age", "launched_before"} <= set(routes["images/"].query_fields)
    assert {"before", "until", "request"} <= set(routes["audit/"].query_fields)
    assert {"image", "reason", "deprecate_at"} <= set(routes["requests/new/"].post_fields)
    assert {"username", "password"} <= set(routes["accounts/login/"].post_fields)
