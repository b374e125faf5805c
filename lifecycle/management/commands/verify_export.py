"""Check an exported audit file (JSON lines or CSV) against its signed manifest, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from amidash.fields import PATH_ARGUMENT
from lifecycle.exports import ExportFormatError, verify_export_file
from lifecycle.management.public_key import add_public_key_argument, public_key_from


class Command(BaseCommand):
    help = "Verify an audit export file (JSON lines or CSV) against its signed manifest."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=PATH_ARGUMENT)
        add_public_key_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file", returncode=2)
        key = public_key_from(options)
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
