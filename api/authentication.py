"""``Authorization: Bearer <token>``: the only way to call the API's resources."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from api.models import ApiToken
from api.services import find_token


class BearerTokenAuthentication(BaseAuthentication):
    """Authenticate by an API token; ``request.auth`` is the ApiToken."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            presented = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("The token is not valid.") from None
        token = find_token(presented)
        if token is None:
            raise AuthenticationFailed("The token is not valid, expired or revoked.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Without it DRF would answer 403 instead of 401 to an anonymous call.
        return 'Bearer realm="amidash"'
