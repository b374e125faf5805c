"""Idle timeout: a sign-in ends after SESSION_COOKIE_AGE seconds without a request.

Each request that comes more than REFRESH_SECONDS after the session was last refreshed stamps
it, which saves it and pushes its expiry (database row and cookie) SESSION_COOKIE_AGE ahead.
Refreshing at most every few minutes, rather than saving on every request, keeps page loads
free of a session write; the timeout is exact to within those minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

ACTIVE_AT = "amidash_active_at"
REFRESH_SECONDS = 300


def stamp_activity(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    """At sign-in the session is new and saved anyway: start its idle clock (user_logged_in)."""
    request.session[ACTIVE_AT] = int(time.time())


class IdleTimeoutMiddleware:
    """Refresh a signed-in session's expiry when its last refresh is older than REFRESH_SECONDS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.get("_auth_user_id"):
            now = int(time.time())
            if now - session.get(ACTIVE_AT, 0) >= REFRESH_SECONDS:
                session[ACTIVE_AT] = now  # modified: SessionMiddleware saves it with a new expiry
        return response
