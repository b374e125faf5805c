"""Check an exported audit file (JSON lines or CSV) against its signed manifest, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from amidash.fields import PATH_ARGUMENT
from lifecycle.exports import ExportFormatError, verify_export_file
from lifecycle.services.audit_signing import SigningKeyError, default_public_key, load_public_key


class Command(BaseCommand):
    help = "Verify an audit export file (JSON lines or CSV) against its signed manifest."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=PATH_ARGUMENT)
        parser.add_argument(
            "--public-key",
            type=PATH_ARGUMENT,
            help="PEM public key from the Audit page (default: the configured signing key)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file", returncode=2)
        try:
            key = load_public_key(options["public_key"]) if options["public_key"] else None
            key = key or default_public_key()
        except SigningKeyError as error:
            raise CommandError(f"{error} (pass --public-key)", returncode=2) from None
        try:
            check = verify_export_file(path, key)
        except ExportFormatError as error:
            raise CommandError(f"{path} is not a valid audit export: {error}") from None
        if not check.ok:
            for problem in check.problems[:20]:
                self.stderr.write(f"- {problem}")
            self.stderr.write(check.summary())
            raise SystemExit(1)
        self.stdout.write(check.summary())
