"""Sign-in resists guessing: lockout by user and address, a bounded audit trail, the proxy's
client address, long passwords."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse

from amidash.roles import Role
from amidash.signin import client_ip
from lifecycle.models import AuditEvent
from tests.factories import PASSWORD, create_user, last_audit_sequence

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str, **headers):
    return client.post(reverse("login"), {"username": username, "password": password}, **headers)


def test_thirty_wrong_passwords_lock_the_account_until_the_lock_passes(settings):
    create_user("lock-target", Role.VIEWER)
    start = last_audit_sequence()
    client = Client()
    answers = [sign_in(client, "lock-target", f"guess-{n}").status_code for n in range(30)]
    assert answers[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(answers[settings.AXES_FAILURE_LIMIT :]) == {429}
    refused = sign_in(client, "lock-target", PASSWORD)
    assert refused.status_code == 429
    assert b"Too many failed sign-ins" in refused.content and b"Try again in" in refused.content
    events = AuditEvent.objects.filter(sequence__gt=start)
    verbs = list(events.values_list("verb", flat=True))
    assert verbs.count("auth.login_failed") == settings.AUDIT_FAILED_SIGNINS_PER_PERIOD
    assert verbs.count("auth.locked_out") == 1 and "auth.login" not in verbs
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME
    )
    assert sign_in(Client(), "lock-target", PASSWORD).status_code == 302


def test_guessing_many_names_from_one_address_locks_that_address(settings):
    create_user("other-user", Role.VIEWER)
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"nobody-{n}", "guess-guess-guess")
    assert sign_in(client, "other-user", PASSWORD).status_code == 429


@pytest.mark.parametrize("page", ["login", "admin:login"])
def test_a_user_name_longer_than_any_allowed_is_refused_by_the_form(page):
    """Django's sign-in forms leave the length to the browser: a 5,000-character name reached
    the lockout records and answered 500."""
    start = last_audit_sequence()
    answer = Client(raise_request_exception=False).post(
        reverse(page), {"username": "x" * 5000, "password": "guess-guess-guess"}
    )
    assert answer.status_code == 200
    assert b"Ensure this value has at most 150 characters" in answer.content
    assert not AccessAttempt.objects.exists()
    assert not AuditEvent.objects.filter(sequence__gt=start).exists()


def test_the_client_address_comes_from_the_configured_proxy_header_only(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert client_ip(request) == "10.0.0.1"
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    assert client_ip(request) == "203.0.113.9"


def test_a_lockout_behind_the_proxy_names_the_client_address(settings):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    create_user("proxied", Role.VIEWER)
    start = last_audit_sequence()
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "proxied", f"guess-{n}", HTTP_X_FORWARDED_FOR="203.0.113.9")
    (locked,) = AuditEvent.objects.filter(sequence__gt=start, verb="auth.locked_out")
    assert locked.after["ip"] == "203.0.113.9"
    assert (
        sign_in(Client(), "proxied", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code
        == 429
    )


def test_passwords_are_at_least_twelve_characters():
    with pytest.raises(ValidationError, match="at least 12"):
        validate_password("Xk7#pQ2!vB")
    validate_password("Xk7#pQ2!vB9@")
