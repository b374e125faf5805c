import pytest
from django.db import connection
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
    assert body["broker"] == "down"


def test_it_names_the_down_broker_without_its_error_text(client, db, broker):
    broker("redis://amidash:s3cret-word@127.0.0.1:1/0")
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "down"}
    for leak in (b"s3cret", b"127.0.0.1", b"refused", b"Error", b"redis"):
        assert leak not in response.content


@pytest.fixture
def database_on_a_closed_port(monkeypatch, django_db_blocker):
    """The default connection pointed at port 1, where nothing listens; restored afterwards."""
    with django_db_blocker.unblock():
        connection.close()
        monkeypatch.setitem(connection.settings_dict, "PORT", "1")
        monkeypatch.setitem(connection.settings_dict, "USER", "amidash-health-probe")
        yield
        connection.close()


def test_it_names_the_down_database_without_its_error_text(client, database_on_a_closed_port):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "down"
    assert body["status"] == "error"
    for leak in (b"amidash-health-probe", b"port", b"refused", b"Error", b"psycopg"):
        assert leak not in response.content


def test_it_answers_503_when_the_filesystem_broker_folder_is_missing(client, db, broker, tmp_path):
    missing = str(tmp_path / "nowhere")
    broker("filesystem://", {"data_folder_in": missing, "data_folder_out": missing})
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert b"nowhere" not in response.content


def test_it_needs_no_sign_in(client, db):
    assert client.get(reverse("healthz")).status_code == 200
