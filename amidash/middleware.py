"""Deny by default for reading: every page, partial and export needs a role.

Signed-in users without a role (no role group and not a superuser) get 403 with the page that
tells them to ask an administrator for one. Views open to anonymous users
(``login_not_required``), views marked ``role_not_required`` (signing out, second factor) and
the admin site (which checks its own permissions, read through ``RoleBackend``) are exempt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from amidash.roles import has_role

NO_ROLE_MESSAGE = "Your account has no role yet: ask an administrator for one."


def role_not_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let signed-in users without a role reach ``view`` (signing out, account security)."""
    view.role_required = False  # type: ignore[attr-defined]
    return view


class RoleRequiredMiddleware(MiddlewareMixin):
    """Refuses every role-guarded view to a signed-in user without a role (runs after sign-in)."""

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> None:
        if not request.user.is_authenticated or not getattr(view, "login_required", True):
            return
        if not getattr(view, "role_required", True):
            return
        match = request.resolver_match
        if match is not None and "admin" in match.namespaces:
            return
        if not has_role(request.user):
            raise PermissionDenied(NO_ROLE_MESSAGE)
