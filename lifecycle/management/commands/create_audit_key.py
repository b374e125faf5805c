"""Create the Ed25519 key that signs audit digests and exports (the only way one is made)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lifecycle.services.audit_signing import (
    SigningKeyError,
    create_signing_key,
    fingerprint,
    signing_key_path,
)


class Command(BaseCommand):
    help = (
        "Create the audit signing key at AMIDASH_AUDIT_SIGNING_KEY_FILE (mode 0600) unless it "
        "exists, and print its fingerprint (pin it with AMIDASH_AUDIT_KEY_FINGERPRINT)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key, created = create_signing_key()
        except (SigningKeyError, OSError) as error:
            raise CommandError(str(error)) from None
        verb = "Created" if created else "Kept the existing"
        self.stdout.write(f"{verb} audit signing key {signing_key_path()}")
        self.stdout.write(f"Fingerprint: {fingerprint(key.public_key())}")
