"""The Slack-compatible webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from lifecycle.services import notifications

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
