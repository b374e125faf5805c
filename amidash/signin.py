"""Sign-in that resists guessing: the client address behind a trusted proxy, and lockouts.

django-axes counts failed sign-ins and locks out by user name and by client address after
``AMIDASH_LOGIN_FAILURE_LIMIT`` failures for ``AMIDASH_LOGIN_LOCKOUT_MINUTES``. The client
address is the connection's, or, behind a reverse proxy, the one that proxy sets in the header
named by ``AMIDASH_CLIENT_IP_HEADER``: a header is trusted only when configured, since any client
can send one.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest

from amidash.fields import TextField

#: Longer than any user name amidash allows, so no guess reaches the lockout records' columns.
USERNAME_MAX_LENGTH = get_user_model()._meta.get_field("username").max_length


def _username_field() -> TextField:
    """Django's sign-in forms set the user name's length for the browser only and check nothing
    (a 5,000-character name went on to the lockout records and failed the request)."""
    return TextField(
        max_length=USERNAME_MAX_LENGTH,
        widget=AuthenticationForm.base_fields["username"].widget.__class__(
            attrs={"autofocus": True}
        ),
    )


class SignInForm(AuthenticationForm):
    """The sign-in page's form: Django's, with the user name bounded like all free text."""

    username = _username_field()


class AdminSignInForm(AdminAuthenticationForm):
    """The admin's sign-in form, bounded the same way."""

    username = _username_field()


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
