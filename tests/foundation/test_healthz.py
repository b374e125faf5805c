from django.urls import reverse


def test_it_answers_200_when_database_and_broker_are_reachable(client, db, tmp_path, settings):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_answers_503_when_the_broker_is_down(client, db):
    from amidash.celery import app

    original = app.conf.broker_url, app.conf.broker_transport_options
    # Nothing listens on port 1: the broker is unreachable.
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app.conf.broker_transport_options = {}
    try:
        response = client.get(reverse("healthz"))
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = original
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")


def test_it_needs_no_sign_in(client, db):
    assert client.get(reverse("healthz")).status_code == 200
