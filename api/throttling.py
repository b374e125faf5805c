"""Rate limits per token (``AMIDASH_API_RATE_LIMIT``, e.g. ``600/min``), kept in the cache.

The rate is read from settings at every call, so a changed setting applies without a restart of
the throttle class (DRF reads its rates once, at import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken

if TYPE_CHECKING:  # DRF imports this module while it loads its views
    from rest_framework.request import Request
    from rest_framework.views import APIView


class TokenRateThrottle(SimpleRateThrottle):
    """One bucket per token; calls without a token are refused before they are counted."""

    scope = "token"

    def get_rate(self) -> str | None:
        return settings.API_RATE_LIMIT or None

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}
