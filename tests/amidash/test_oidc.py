"""OpenID Connect sign-in against a real provider process (tests/amidash/oidc_provider.py)."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured

from amidash.oidc import parse_role_map
from lifecycle.models import AuditEvent, AuditVerb

PROVIDER = Path(__file__).with_name("oidc_provider.py")


def start_provider(groups: str) -> tuple[subprocess.Popen, str]:
    env = {"PATH": "/usr/bin:/bin", "OIDC_TEST_GROUPS": groups}
    process = subprocess.Popen(
        [sys.executable, str(PROVIDER)], env=env, stdout=subprocess.PIPE, text=True
    )
    port = process.stdout.readline().strip()
    assert port.isdigit(), "the provider did not start"
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def provider(settings) -> Iterator:
    """Starts the provider with the given groups and points amidash at it (discovery first)."""
    processes: list[subprocess.Popen] = []

    def start(groups: str) -> None:
        process, base = start_provider(groups)
        processes.append(process)
        discovery = requests.get(f"{base}/.well-known/openid-configuration", timeout=5).json()
        settings.OIDC_ENABLED = True
        settings.OIDC_RP_CLIENT_ID = "amidash"
        settings.OIDC_RP_CLIENT_SECRET = "provider-test-secret"
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = discovery["authorization_endpoint"]
        settings.OIDC_OP_TOKEN_ENDPOINT = discovery["token_endpoint"]
        settings.OIDC_OP_USER_ENDPOINT = discovery["userinfo_endpoint"]
        settings.OIDC_OP_JWKS_ENDPOINT = discovery["jwks_uri"]
        settings.OIDC_ROLE_MAP_RAW = "platform-approvers=Approver, readers=Viewer"
        settings.AUTHENTICATION_BACKENDS = [
            *settings.AUTHENTICATION_BACKENDS,
            "amidash.oidc.RoleMappingBackend",
        ]

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def sign_in_through_the_provider(client) -> str:
    """Follow the redirects: amidash → provider (over HTTP) → amidash's callback."""
    to_provider = client.get("/oidc/authenticate/?next=/requests/")
    assert to_provider.status_code == 302
    consent = requests.get(to_provider["Location"], allow_redirects=False, timeout=5)
    assert consent.status_code == 302
    back = urlsplit(consent.headers["Location"])
    assert back.path == "/oidc/callback/"
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302
    return done["Location"]


def test_a_provider_user_signs_in_with_the_roles_their_groups_map_to(client, db, provider):
    provider("platform-approvers,unrelated")
    assert sign_in_through_the_provider(client) == "/requests/"
    user = User.objects.get(username="oidc:olga")
    assert list(user.groups.values_list("name", flat=True)) == ["Approver"]
    assert client.get("/requests/").status_code == 200
    change = AuditEvent.objects.filter(verb="role.changed").latest("sequence")
    assert (change.before["roles"], change.after["roles"]) == (["No role"], ["Approver"])
    assert AuditEvent.objects.filter(verb=AuditVerb.AUTH_LOGIN, target_id=str(user.pk)).exists()


def test_each_sign_in_applies_the_groups_again_and_audits_the_change(client, db, provider):
    provider("platform-approvers")
    sign_in_through_the_provider(client)
    client.logout()
    provider("readers")  # the provider now says the user is only a reader
    sign_in_through_the_provider(client)
    user = User.objects.get(username="oidc:olga")
    assert list(user.groups.values_list("name", flat=True)) == ["Viewer"]
    changes = [
        (e.before["roles"], e.after["roles"])
        for e in AuditEvent.objects.filter(verb="role.changed").order_by("sequence")
    ]
    assert changes[-2:] == [(["Approver"], ["No role"]), (["No role"], ["Viewer"])]


def test_the_provider_cannot_take_over_a_local_account(client, db, provider, viewer):
    viewer.email = "olga@example.com"
    viewer.save()
    provider("platform-approvers")
    sign_in_through_the_provider(client)
    assert not viewer.groups.filter(name="Approver").exists()
    assert User.objects.filter(username="oidc:olga").exists()


def test_without_a_provider_the_sign_in_page_offers_none(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with your organisation" not in page
    assert client.get("/oidc/authenticate/")["Location"] == "/accounts/login/"


@pytest.mark.parametrize("raw", ["admins", "admins=Boss", "=Viewer"])
def test_a_bad_role_map_is_refused_with_its_entry(raw):
    with pytest.raises(ImproperlyConfigured, match="AMIDASH_OIDC_ROLE_MAP must be"):
        parse_role_map("AMIDASH_OIDC_ROLE_MAP", raw)
