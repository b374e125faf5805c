"""A token's rights are the smaller of its scopes and its user's roles, at every call.

The scope is checked here; the role is checked by the same function the page uses (the view
names it), so a user who loses a role loses it through every token at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.models import ApiToken, TokenScope

if TYPE_CHECKING:  # DRF imports this module while it loads its views
    from rest_framework.request import Request
    from rest_framework.views import APIView


def required_scope(request: Request, view: APIView) -> str:
    """``read`` for reads; a view's ``write_scope`` (default ``request``) for changes."""
    if request.method in SAFE_METHODS:
        return TokenScope.READ
    return getattr(view, "write_scope", TokenScope.REQUEST)


class TokenHasScope(BasePermission):
    """The call is made with a token that has the scope the operation needs."""

    message = "This token does not have the scope this operation needs."

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return False
        scope = required_scope(request, view)
        self.message = f"This token lacks the '{scope}' scope."
        return token.has_scope(scope)
