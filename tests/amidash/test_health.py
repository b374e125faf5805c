import pytest
from django.urls import reverse

from amidash.celery import app


@pytest.fixture
def broker(monkeypatch):
    """Point the Celery app at another broker for one test."""
    original = app.conf.broker_url, app.conf.broker_transport_options

    def use(url: str, options: dict | None = None) -> None:
        # Celery reads CELERY_BROKER_URL from the environment before its own setting.
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        app.conf.broker_url, app.conf.broker_transport_options = url, options or {}

    yield use
    app.conf.broker_url, app.conf.broker_transport_options = original


def test_it_answers_200_when_database_and_broker_are_reachable(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_answers_503_when_the_broker_is_down(client, db, broker):
    broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")


def test_it_answers_503_when_the_filesystem_broker_folder_is_missing(client, db, broker, tmp_path):
    missing = str(tmp_path / "nowhere")
    broker("filesystem://", {"data_folder_in": missing, "data_folder_out": missing})
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert "nowhere" in response.json()["broker"]


def test_it_needs_no_sign_in(client, db):
    assert client.get(reverse("healthz")).status_code == 200
