"""Bearer tokens: anonymous 401, bad or expired or revoked tokens 401, problems as JSON."""

from __future__ import annotations

import datetime

from django.utils import timezone

from api.models import ApiToken
from api.services import revoke_token
from tests.api.conftest import ApiClient, token_for

IMAGES = "/api/v1/images/"


def test_it_answers_an_anonymous_call_with_a_401_problem(db):
    response = ApiClient(None).get(IMAGES)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_forged_token(viewer):
    secret = token_for(viewer)
    forged = secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")
    assert ApiClient(forged).get(IMAGES).status_code == 401
    assert ApiClient("not-a-token").get(IMAGES).status_code == 401
    assert ApiClient(secret).get(IMAGES).status_code == 200


def test_it_refuses_an_expired_token(viewer):
    secret = token_for(viewer)
    ApiToken.objects.filter(user=viewer).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert ApiClient(secret).get(IMAGES).status_code == 401


def test_it_refuses_a_revoked_token(viewer):
    secret = token_for(viewer)
    revoke_token(viewer, ApiToken.objects.get(user=viewer).pk, "web")
    assert ApiClient(secret).get(IMAGES).status_code == 401


def test_it_refuses_a_token_of_a_deactivated_user(viewer):
    secret = token_for(viewer)
    viewer.is_active = False
    viewer.save()
    assert ApiClient(secret).get(IMAGES).status_code == 401


def test_it_stores_only_the_digest_and_marks_the_last_use(viewer):
    secret = token_for(viewer)
    token = ApiToken.objects.get(user=viewer)
    assert secret not in (token.digest, token.prefix) and token.last_used_at is None
    ApiClient(secret).get(IMAGES)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_an_unknown_api_path_is_a_404_problem(viewer):
    response = ApiClient(token_for(viewer)).get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
