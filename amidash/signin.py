"""Sign-in that resists guessing: the client address behind a trusted proxy, and lockouts.

django-axes counts failed sign-ins and locks out by user name and by client address after
``AMIDASH_LOGIN_FAILURE_LIMIT`` failures for ``AMIDASH_LOGIN_LOCKOUT_MINUTES``. The client
address is the connection's, or, behind a reverse proxy, the one that proxy sets in the header
named by ``AMIDASH_CLIENT_IP_HEADER``: a header is trusted only when configured, since any client
can send one.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: the last hop the trusted proxy appended, or the connection's."""
    if request is None:
        return ""
    header = settings.CLIENT_IP_HEADER
    if header:
        forwarded = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR", "")
