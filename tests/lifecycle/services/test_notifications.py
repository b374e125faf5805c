"""The Slack-compatible webhook."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.urls import reverse

from lifecycle.choices import ItemStatus, RequestStatus
from lifecycle.models import LifecycleRequest
from lifecycle.services import notifications
from lifecycle.tasks import send_notification
from tests.amidash.sandbox.images import register_image
from tests.factories import approve, ask, image, signed_in, sync

pytestmark = pytest.mark.django_db


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_it_posts_slack_compatible_json_to_the_webhook():
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        assert notifications.post_webhook({"text": "Request #1 is approved"}, url)
    finally:
        server.shutdown()
    assert _Hook.received == [{"text": "Request #1 is approved"}]


def test_it_survives_an_unreachable_webhook():
    assert notifications.post_webhook({"text": "x"}, "http://127.0.0.1:9/unreachable") is False


# Notices are Celery tasks: a stalled mail server never holds the web request that made the
# request, each channel is retried within bounded timeouts, and failures reach the requester and
# the approvers.
@pytest.fixture
def stalled_smtp(settings) -> Iterator[int]:
    """A mail server that accepts connections and never says a word (for 8 s)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []

    def hold() -> None:
        server.settimeout(8)
        try:
            while True:
                accepted.append(server.accept()[0])
        except OSError:
            pass

    threading.Thread(target=hold, daemon=True).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.getsockname()[1]
    settings.EMAIL_TIMEOUT = 1
    yield server.getsockname()[1]
    server.close()
    for connection in accepted:
        connection.close()


def test_a_stalled_mail_server_never_holds_the_web_request(
    aws, requester, approver, stalled_smtp, django_capture_on_commit_callbacks
):
    image_id = register_image(aws, "old-build")
    sync()
    form = {"action": "deregister", "image": [image(image_id).pk], "reason": "unused since 2023"}
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(requester).post(reverse("lifecycle:request_create"), form)
    assert response.status_code == 302
    assert time.monotonic() - started < 3
    assert LifecycleRequest.objects.count() == 1


def test_the_email_task_gives_up_on_a_stalled_server_within_its_timeout(
    aws, requester, approver, stalled_smtp
):
    image_id = register_image(aws, "old-build")
    sync()
    request = ask(requester, "deregister", [image_id])
    started = time.monotonic()

    with pytest.raises(OSError):
        send_notification.run(notifications.WAITING, request.pk, "email")

    assert time.monotonic() - started < 3


def test_failures_reach_the_requester_and_the_approvers(
    aws, requester, approver, django_capture_on_commit_callbacks, eager_celery
):
    image_id = register_image(aws, "old-build")
    sync()
    request = ask(requester, "deregister", [image_id])
    approve(approver, request)
    request.items.update(status=ItemStatus.FAILED, error="AccessDenied")
    LifecycleRequest.objects.filter(pk=request.pk).update(status=RequestStatus.FAILED)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        notifications.queue_notice(notifications.FINISHED, request.pk)

    assert mail.outbox[0].to == sorted([requester.email, approver.email])
    assert "1 failed" in mail.outbox[0].body
