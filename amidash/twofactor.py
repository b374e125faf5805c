"""Two-factor sign-in (TOTP, with recovery codes) and re-authentication before decisions.

Rules:
- A user with a confirmed device signs in with password, then a code: until the code is given
  every page sends them to the code page (``TwoFactorMiddleware``).
- With ``REQUIRE_2FA`` on (the default outside DEBUG), Approvers and superusers must enrol a
  device before anything else: their approval is what four-eyes rests on.
- Approving or rejecting needs a sign-in, code or re-authentication within
  ``REAUTHENTICATE_MINUTES`` (``needs_reauthentication``, used by the request page and the API):
  an unattended open browser cannot approve. An API token cannot re-authenticate; it is itself
  the credential (the ``approve`` scope, its expiry and revocation govern it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from io import BytesIO
from typing import Any

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.deprecation import MiddlewareMixin
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from amidash.roles import Role

AUTHENTICATED_AT = "amidash_authenticated_at"
RECOVERY_CODES = 10


def stamp_authentication(request: HttpRequest) -> None:
    """The user proved who they are just now (password, code or re-authentication)."""
    request.session[AUTHENTICATED_AT] = int(time.time())


def stamp_sign_in(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    """A password sign-in counts as a fresh authentication (``user_logged_in``)."""
    stamp_authentication(request)


def needs_reauthentication(request: Any) -> bool:
    """True when a session user must re-authenticate before approving or rejecting.

    The one rule for the request page and the API. Token clients (``request.auth`` set) are
    never asked: a token cannot re-authenticate.
    """
    if getattr(request, "auth", None) is not None:
        return False
    stamped = request.session.get(AUTHENTICATED_AT, 0)
    return time.time() - stamped > settings.REAUTHENTICATE_MINUTES * 60


def has_device(user: AbstractBaseUser) -> bool:
    return django_otp.user_has_device(user, confirmed=True)


def must_enrol(user: AbstractBaseUser) -> bool:
    """Approvers and superusers need a device when 2FA is required."""
    if not settings.REQUIRE_2FA or has_device(user):
        return False
    return user.is_superuser or user.groups.filter(name=Role.APPROVER).exists()


def two_factor_exempt(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Reachable before the code is given (the 2FA pages themselves, signing out)."""
    view.two_factor_exempt = True  # type: ignore[attr-defined]
    return view


class TwoFactorMiddleware(MiddlewareMixin):
    """Sends a signed-in user to the code page (device, not verified) or enrolment (must enrol)."""

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or getattr(view, "two_factor_exempt", False):
            return None
        if not getattr(view, "login_required", True):
            return None
        if has_device(user):
            if user.is_verified():
                return None
            target = "two_factor_verify"
        elif must_enrol(user):
            target = "two_factor_enrol"
        else:
            return None
        return redirect(f"{reverse(target)}?next={request.get_full_path()}")


class CodeForm(forms.Form):
    code = forms.CharField(max_length=16, strip=True)


def _next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if safe else default


def _qr_svg(uri: str) -> str:
    """The otpauth URI as an SVG drawn here (no third party sees the secret)."""
    buffer = BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


@transaction.atomic
def _confirm(request: HttpRequest, device: TOTPDevice) -> list[str]:
    """Confirm ``device``, verify this session and make fresh recovery codes (shown once)."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    django_otp.login(request, device)
    stamp_authentication(request)
    StaticDevice.objects.filter(user=request.user).delete()
    recovery = StaticDevice.objects.create(user=request.user, name="recovery codes")
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    recovery.token_set.bulk_create([StaticToken(device=recovery, token=c) for c in codes])
    return codes


@two_factor_exempt
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Show a new authenticator secret (URI and QR code); a correct code confirms it."""
    if has_device(request.user):
        return redirect(_next(request))
    device, _ = TOTPDevice.objects.get_or_create(
        user=request.user, confirmed=False, defaults={"name": "authenticator"}
    )
    form = CodeForm(request.POST or None)
    if form.is_valid() and device.verify_token(form.cleaned_data["code"]):
        codes = _confirm(request, device)
        return render(
            request, "registration/two_factor_codes.html", {"codes": codes, "next": _next(request)}
        )
    if form.is_bound:
        form.add_error("code", "That code is not right: enter the one your app shows now.")
    context = {"form": form, "uri": device.config_url, "qr": mark_safe(_qr_svg(device.config_url))}
    status = 400 if form.is_bound else 200
    return render(
        request,
        "registration/two_factor_enrol.html",
        {**context, "next": _next(request)},
        status=status,
    )


@two_factor_exempt
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The sign-in's second step: a code from the authenticator, or an unused recovery code."""
    form = CodeForm(request.POST or None)
    if form.is_valid():
        device = django_otp.match_token(request.user, form.cleaned_data["code"])
        if device is not None:
            django_otp.login(request, device)
            stamp_authentication(request)
            return redirect(_next(request))
        form.add_error("code", "That code is not right.")
    status = 400 if form.is_bound else 200
    return render(
        request,
        "registration/two_factor_verify.html",
        {"form": form, "next": _next(request)},
        status=status,
    )


class ReauthenticateForm(forms.Form):
    secret = forms.CharField(max_length=128, strip=False, widget=forms.PasswordInput)


@require_http_methods(["GET", "POST"])
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Prove it is still you (code with 2FA, password otherwise) before a decision."""
    with_code = has_device(request.user)
    form = ReauthenticateForm(request.POST or None)
    if form.is_valid():
        secret = form.cleaned_data["secret"]
        if with_code:
            proved = django_otp.match_token(request.user, secret) is not None
        else:
            username = request.user.get_username()
            proved = authenticate(request, username=username, password=secret) is not None
        if proved:
            stamp_authentication(request)
            return redirect(_next(request))
        form.add_error("secret", "That is not right.")
    context = {"form": form, "with_code": with_code, "next": _next(request)}
    status = 400 if form.is_bound else 200
    return render(request, "registration/reauthenticate.html", context, status=status)
