"""API fixtures: tokens of the personas and a client that sends one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.test import Client

from api.services import create_token
from lifecycle.models import AuditSource


def token_for(user, scopes: str = "read") -> str:
    """A new token of ``user`` with these comma-separated scopes (its secret)."""
    return create_token(user, user, "test", scopes.split(","), None, AuditSource.CLI).secret


class ApiClient:
    """A Django test client that sends ``Authorization: Bearer <token>`` and JSON."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, params: dict | None = None):
        return self.client.get(path, params or {}, headers=self.headers)

    def post(self, path: str, body: object = None, raw: str | None = None):
        data = raw if raw is not None else __import__("json").dumps(body or {})
        return self.client.post(path, data, content_type="application/json", headers=self.headers)


@pytest.fixture
def aws(settings):
    """The sandbox, in-process, with the sync limited to one Region to keep tests quick."""
    from amidash.sandbox import sandbox
    from tests.amidash.sandbox.images import REGION

    settings.SYNC_REGIONS = [REGION]
    with sandbox() as handle:
        yield handle


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> Callable[..., ApiClient]:
    """``api(user, "read,request")``: a client with a new token of ``user``."""

    def make(user=None, scopes: str = "read") -> ApiClient:
        return ApiClient(token_for(user, scopes) if user is not None else None)

    return make
