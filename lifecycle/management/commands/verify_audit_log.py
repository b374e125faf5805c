"""Check the audit chain and signed digests: exit 0 if intact, 1 naming the first bad event.

By default the check resumes from the latest signed digest (the digests' signatures and chain,
the events at their heads, and every event after the latest); ``--full`` re-hashes every event.
The output says which ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from amidash.fields import PATH_ARGUMENT
from lifecycle.services.audit_digests import DigestError, load_digests
from lifecycle.services.audit_signing import SigningKeyError, verifying_key
from lifecycle.services.audit_verification import verify_audit_log


class Command(BaseCommand):
    help = "Verify the audit log's hash chain and its signed digests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--digest-dir", type=PATH_ARGUMENT, help="digest folder (AUDIT_DIGEST_DIR)"
        )
        parser.add_argument(
            "--public-key",
            type=PATH_ARGUMENT,
            help="PEM public key (default: the configured signing key)",
        )
        parser.add_argument(
            "--no-digests",
            action="store_true",
            help="check the hash chain only (in full: there is no digest to resume from)",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="re-hash every event from #1 instead of resuming from the latest signed digest",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        digests = [] if options["no_digests"] else self._digests(options["digest_dir"])
        public_key = self._public_key(options["public_key"], needed=bool(digests))
        result = verify_audit_log(full=options["full"], digests=digests, public_key=public_key)
        if not result.ok:
            self.stderr.write(result.summary())
            raise SystemExit(1)
        self.stdout.write(result.summary())

    def _digests(self, directory: Path | None) -> list:
        if directory is not None and not directory.is_dir():
            raise CommandError(f"{directory} is not a folder", returncode=2)
        try:
            return load_digests(directory)
        except DigestError as error:
            self.stderr.write(f"Audit log NOT intact: digest mismatch: {error}")
            raise SystemExit(1) from None

    def _public_key(self, path: Path | None, *, needed: bool) -> Any:
        try:
            return verifying_key(path)
        except SigningKeyError as error:
            if path or needed:
                raise CommandError(str(error), returncode=2) from None
            return None
