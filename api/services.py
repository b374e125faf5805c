"""Making, finding, revoking and recording the use of API tokens (invariant 8: every change to
who may do what is an audit event, tokens included).

One implementation serves the token page, ``create_api_token`` and the authentication class.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken, TokenScope, secret_digest
from lifecycle.models import AuditVerb
from lifecycle.services.audit import Target, record_event

TOKEN_WORD = "amidash"
MAX_EXPIRY_DAYS = 3650
#: How often ``last_used_at`` is written: a poller must not turn every read into a write.
LAST_USE_PRECISION = datetime.timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret, which is shown once and never stored."""

    token: ApiToken
    secret: str


def parse_scopes(raw: str | list[str]) -> list[str]:
    """Scopes from "read,request" or a list; unknown ones raise ValidationError."""
    names = raw.split(",") if isinstance(raw, str) else raw
    scopes = sorted({name.strip() for name in names if name.strip()})
    unknown = [scope for scope in scopes if scope not in TokenScope.values]
    if unknown or not scopes:
        choices = ", ".join(TokenScope.values)
        raise ValidationError(f"Scopes must be some of {choices}.", code="scopes")
    return scopes


def token_target(token: ApiToken) -> Target:
    return Target("api_token", token.prefix, label=f"API token {token.name}"[:255])


def create_token(
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    name: str,
    scopes: list[str],
    expires_in_days: int | None,
    source: str,
) -> IssuedToken:
    """Issue a token for ``user`` (made by ``actor``: the user or an operator) and record it."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValidationError(f"Expiry is 1 to {MAX_EXPIRY_DAYS} days.", code="expires")
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    full = f"{TOKEN_WORD}_{prefix}_{secret}"
    now = timezone.now()
    expires_at = now + datetime.timedelta(days=expires_in_days) if expires_in_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=(name.strip() or "API token")[:100],
            prefix=prefix,
            digest=secret_digest(full),
            scopes=parse_scopes(scopes),
            created_at=now,
            expires_at=expires_at,
        )
        record_event(
            AuditVerb.TOKEN_CREATED,
            actor=actor,
            source=source,
            target=token_target(token),
            after=token_summary(token),
            message=f"API token for {user.get_username()}",
        )
    return IssuedToken(token, full)


def token_summary(token: ApiToken) -> dict[str, Any]:
    """What audit events say about a token (never its secret or digest)."""
    return {
        "user": token.user.get_username(),
        "name": token.name,
        "prefix": token.prefix,
        "scopes": token.scopes,
        "expires_at": token.expires_at,
    }


def revoke_token(actor: AbstractBaseUser, token_pk: int, source: str) -> ApiToken:
    """Revoke one of the actor's own tokens (a superuser may revoke anybody's)."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("user").get(pk=token_pk)
        if token.user_id != actor.pk and not actor.is_superuser:
            raise PermissionDenied("Only its owner may revoke a token.")
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_event(
            AuditVerb.TOKEN_REVOKED,
            actor=actor,
            source=source,
            target=token_target(token),
            before={"revoked_at": None},
            after={"revoked_at": token.revoked_at},
        )
    return token


def find_token(presented: str) -> ApiToken | None:
    """The usable token a bearer string names, or None; marks its last use."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_WORD:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1][:16]).first()
    if token is None or not secrets.compare_digest(token.digest, secret_digest(presented)):
        return None
    if not token.is_usable() or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USE_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def record_token_use(
    token: ApiToken, operation: str, target: Any, correlation_id: str = ""
) -> None:
    """Name the token behind a change: ``token.used`` with the operation, correlated with the
    change's own events (``request:<pk>``, ``sync:<pk>``) so its history shows the token."""
    record_event(
        AuditVerb.TOKEN_USED,
        actor=token.user,
        source="api",
        target=target,
        after={"token": token.prefix, "token_name": token.name, "operation": operation},
        message=f"{operation} with API token {token.prefix}",
        correlation_id=correlation_id,
    )
