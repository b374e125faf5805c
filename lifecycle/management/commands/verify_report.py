"""Check a kept or mailed audit report (PDF) against its signed manifest, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from amidash.fields import PATH_ARGUMENT
from lifecycle.services.audit_signing import SigningKeyError, default_public_key, load_public_key
from lifecycle.services.report_delivery import verify_report_file


class Command(BaseCommand):
    help = "Verify an audit report PDF against its signed manifest (FILE.manifest.json)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=PATH_ARGUMENT)
        parser.add_argument(
            "--manifest", type=PATH_ARGUMENT, help="the manifest (default: FILE.manifest.json)"
        )
        parser.add_argument(
            "--public-key",
            type=PATH_ARGUMENT,
            help="PEM public key from the Audit page (default: the configured signing key)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        manifest: Path = options["manifest"] or path.with_name(f"{path.name}.manifest.json")
        for needed in (path, manifest):
            if not needed.is_file():
                raise CommandError(f"{needed} is not a file", returncode=2)
        try:
            key = load_public_key(options["public_key"]) if options["public_key"] else None
            key = key or default_public_key()
        except SigningKeyError as error:
            raise CommandError(f"{error} (pass --public-key)", returncode=2) from None
        problems = verify_report_file(path, manifest, key)
        if problems:
            for problem in problems:
                self.stderr.write(f"- {problem}")
            self.stderr.write(f"Report NOT intact: {problems[0]}")
            raise SystemExit(1)
        self.stdout.write(f"Report intact: {path.name} matches its signed manifest.")
