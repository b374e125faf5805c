"""Sign-in through an OpenID Connect provider, beside local accounts (off unless configured).

The provider's groups decide the amidash roles at every sign-in (``OIDC_ROLE_MAP``,
"idp-group=Role,..."): roles the groups give are added, role groups they no longer give are
removed. The changes go through the user's group memberships, so the role-change audit
receivers record each one like a change made in the admin. Users are matched by the provider's
``preferred_username`` (else ``sub``) under an "oidc:" prefix, so a provider can never take over
a local account that happens to share a name or an email address.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from amidash.fields import reads
from amidash.roles import Role
from amidash.signin import SignInForm

USERNAME_PREFIX = "oidc:"


def parse_role_map(name: str, raw: str) -> dict[str, str]:
    """``group=Role`` pairs; an unknown role or a malformed pair stops the process."""
    mapping: dict[str, str] = {}
    for entry in (item.strip() for item in raw.split(",") if item.strip()):
        group, equals, role = (part.strip() for part in entry.partition("="))
        if not equals or not group or role not in Role.values:
            raise ImproperlyConfigured(
                f"{name} must be idp-group=Role pairs with Role one of "
                f"{', '.join(Role.values)}, not {entry!r}"
            )
        mapping[group] = role
    return mapping


def username_for(claims: dict[str, Any]) -> str:
    return USERNAME_PREFIX + str(claims.get("preferred_username") or claims["sub"])


def apply_roles(user: AbstractBaseUser, groups: list[str]) -> None:
    """Make the user's role groups exactly those the provider's groups map to."""
    role_map = parse_role_map("AMIDASH_OIDC_ROLE_MAP", settings.OIDC_ROLE_MAP_RAW)
    wanted = {role_map[g] for g in groups if g in role_map}
    held = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    if held - wanted:
        user.groups.remove(*Group.objects.filter(name__in=held - wanted))
    if wanted - held:
        user.groups.add(*Group.objects.filter(name__in=wanted - held))


class RoleMappingBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's code flow, with users found by name and roles from groups."""

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims: dict[str, Any]):
        return self.UserModel.objects.filter(username=username_for(claims))

    @transaction.atomic
    def create_user(self, claims: dict[str, Any]) -> AbstractBaseUser:
        user = self.UserModel.objects.create_user(
            username_for(claims), email=claims.get("email", "")
        )
        apply_roles(user, list(claims.get("groups") or []))
        return user

    @transaction.atomic
    def update_user(self, user: AbstractBaseUser, claims: dict[str, Any]) -> AbstractBaseUser:
        apply_roles(user, list(claims.get("groups") or []))
        return user


@login_not_required
@reads(post=[SignInForm])
def login_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Django's sign-in page, offering the provider when one is configured."""
    extra = {"oidc_enabled": settings.OIDC_ENABLED}
    view = auth_views.LoginView.as_view(authentication_form=SignInForm, extra_context=extra)
    return view(request, *args, **kwargs)


def _when_enabled(view: Any) -> Any:
    """The provider's views send back to the sign-in page unless OpenID Connect is configured."""

    @login_not_required
    def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.OIDC_ENABLED:
            return redirect("login")
        return view(request, *args, **kwargs)

    return gated


sign_in_view = _when_enabled(OIDCAuthenticationRequestView.as_view())
callback_view = _when_enabled(OIDCAuthenticationCallbackView.as_view())
