"""API tokens: a secret shown once, stored as its SHA-256, looked up by a short prefix.

A token is ``amidash_<prefix>_<secret>``. The prefix is public (it names the token in lists and
in the audit log); the secret has 256 bits of entropy, so a plain SHA-256 is enough: there is
nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import datetime
import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


class TokenScope(models.TextChoices):
    """What a token may be used for; its user's roles still decide what the user may do."""

    READ = "read", "Read"
    REQUEST = "request", "Request actions and syncs"
    APPROVE = "approve", "Approve or reject requests"


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token of one user, with scopes, an optional expiry and its last use."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def is_usable(self, now: datetime.datetime | None = None) -> bool:
        """Not revoked and not expired."""
        now = now or timezone.now()
        expired = self.expires_at is not None and self.expires_at <= now
        return self.revoked_at is None and not expired

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
