import time

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from amidash.sessions import ACTIVE_AT, REFRESH_SECONDS
from tests.factories import PASSWORD


def session_row(client) -> Session:
    return Session.objects.get(session_key=client.session.session_key)


def test_a_sign_in_lasts_eight_idle_hours_by_default(client, viewer):
    assert (
        client.post("/accounts/login/", {"username": "viola", "password": PASSWORD}).status_code
        == 302
    )
    left = session_row(client).expire_date - timezone.now()
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert 8 * 3600 - 60 < left.total_seconds() <= 8 * 3600


def test_a_request_after_a_quiet_spell_pushes_the_end_further(client, viewer):
    client.post("/accounts/login/", {"username": "viola", "password": PASSWORD})
    session = client.session
    session[ACTIVE_AT] = int(time.time()) - REFRESH_SECONDS - 1
    session.save()
    Session.objects.filter(session_key=session.session_key).update(
        expire_date=timezone.now() + timezone.timedelta(minutes=1)
    )
    assert client.get("/images/").status_code == 200
    left = session_row(client).expire_date - timezone.now()
    assert left.total_seconds() > 8 * 3600 - 60


def test_an_idle_session_ends_and_asks_for_sign_in_again(client, viewer):
    client.post("/accounts/login/", {"username": "viola", "password": PASSWORD})
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timezone.timedelta(seconds=1)
    )
    response = client.get("/images/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_requests_in_quick_succession_do_not_write_the_session(
    client, viewer, django_assert_num_queries
):
    client.post("/accounts/login/", {"username": "viola", "password": PASSWORD})
    expiry = session_row(client).expire_date
    client.get("/images/")
    assert session_row(client).expire_date == expiry
