"""Sign the audit chain head into a digest file now (beat does it every interval)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from amidash.fields import PATH_ARGUMENT
from lifecycle.services.audit_digests import write_digest


class Command(BaseCommand):
    help = "Write a signed digest of the audit chain head to the digest folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--digest-dir", type=PATH_ARGUMENT, help="digest folder (AUDIT_DIGEST_DIR)"
        )
        parser.add_argument(
            "--force", action="store_true", help="write one even if nothing happened since"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = write_digest(directory=options["digest_dir"], force=options["force"])
        if path is None:
            self.stdout.write("No new audit events since the last digest; nothing written.")
        else:
            self.stdout.write(f"Wrote {path}")
