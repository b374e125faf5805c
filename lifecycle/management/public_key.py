"""The ``--public-key`` option of the commands that verify signed audit files offline."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management.base import CommandError, CommandParser

from amidash.fields import PATH_ARGUMENT
from lifecycle.services.audit_signing import SigningKeyError, verifying_key


def add_public_key_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--public-key",
        type=PATH_ARGUMENT,
        help="PEM public key from the Audit page (default: the configured signing key)",
    )


def public_key_from(options: dict[str, Any]) -> Ed25519PublicKey:
    """The key named by ``--public-key``, else the configured one; exit 2 when neither reads."""
    try:
        return verifying_key(options["public_key"])
    except SigningKeyError as error:
        raise CommandError(f"{error} (pass --public-key)", returncode=2) from None
