"""create_api_token prints the token once, as the last word of its last line."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from api.models import ApiToken
from lifecycle.models import AuditEvent
from tests.api.conftest import ApiClient


def test_it_prints_a_working_token_as_the_last_word(viewer):
    out = io.StringIO()
    call_command("create_api_token", "viola", "--scopes", "read", "--expires", "30", stdout=out)
    token = out.getvalue().strip().splitlines()[-1].split()[-1]
    assert ApiClient(token).get("/api/v1/images/").status_code == 200
    stored = ApiToken.objects.get(user=viewer)
    assert stored.expires_at is not None and stored.scopes == ["read"]
    assert AuditEvent.objects.filter(verb="token.created", target_id=stored.prefix).exists()


def test_it_refuses_unknown_scopes_and_users(viewer):
    with pytest.raises(CommandError):
        call_command("create_api_token", "viola", "--scopes", "root")
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody", "--scopes", "read")
