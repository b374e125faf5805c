"""Deny by default for reading: a signed-in user without a role is refused everything."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from amidash.roles import Role
from tests.factories import create_user, signed_in

pytestmark = pytest.mark.django_db
OPEN = {"login", "healthz", "logout"}
ARGUMENTS = {"int": 1, "str": "csv"}


def _patterns(resolver: URLResolver, namespace: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _patterns(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", pattern


def _url(name: str, pattern: URLPattern) -> str:
    converters = pattern.pattern.converters
    kwargs = {
        key: ARGUMENTS["int" if "Int" in type(c).__name__ else "str"]
        for key, c in converters.items()
    }
    return reverse(name, kwargs=kwargs)


def test_a_user_without_a_role_gets_403_on_every_page_partial_and_export():
    client = signed_in(create_user("nobody"))
    checked = []
    for name, pattern in _patterns(get_resolver()):
        if name in OPEN:
            continue
        url = _url(name, pattern)
        for response in (
            client.get(url),
            client.get(url, HTTP_HX_REQUEST="true"),
            client.post(url),
        ):
            assert response.status_code == 403, (name, response.status_code)
        checked.append(name)
    assert {"inventory:image_export", "inventory:overview_trend", "lifecycle:audit_export"} <= set(
        checked
    )


def test_the_refusal_says_to_ask_an_administrator_for_a_role():
    response = signed_in(create_user("nobody")).get(reverse("inventory:image_list"))
    assert response.status_code == 403
    assert b"ask an administrator for one" in response.content


def test_any_role_reads_the_inventory():
    for role in Role.values:
        user = create_user(f"user-{role.lower()}", role)
        assert signed_in(user).get(reverse("inventory:image_list")).status_code == 200, role


def test_a_user_without_a_role_may_still_sign_out():
    client = signed_in(create_user("nobody"))
    assert client.post(reverse("logout")).status_code == 302
