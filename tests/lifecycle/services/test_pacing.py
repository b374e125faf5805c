"""Pacing buckets shared through PostgreSQL, and the Slack-compatible webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from lifecycle.services import notifications, pacing

pytestmark = pytest.mark.django_db


def test_it_gives_the_burst_then_makes_callers_wait(settings):
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 2.0
    settings.LIFECYCLE_MUTATION_BURST = 3
    rate = pacing.rate_for("DeregisterImage")
    key = pacing.bucket_key("123456789012", "us-east-1", "DeregisterImage")
    assert [pacing.try_take(key, rate) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = pacing.try_take(key, rate)
    assert 0 < wait <= 0.5
    other = pacing.bucket_key("123456789012", "eu-west-1", "DeregisterImage")
    assert pacing.try_take(other, rate) == 0.0  # each account+Region has its own bucket


def test_it_never_paces_above_ec2s_own_refill(settings):
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 50.0
    assert pacing.rate_for("CopyImage").per_second == 1.0
    assert pacing.rate_for("DeregisterImage").per_second == 5.0


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
