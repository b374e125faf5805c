"""Check a kept or mailed audit report (PDF) against its signed manifest, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from amidash.fields import PATH_ARGUMENT
from lifecycle.management.public_key import add_public_key_argument, public_key_from
from lifecycle.services.report_delivery import verify_report_file


class Command(BaseCommand):
    help = "Verify an audit report PDF against its signed manifest (FILE.manifest.json)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=PATH_ARGUMENT)
        parser.add_argument(
            "--manifest", type=PATH_ARGUMENT, help="the manifest (default: FILE.manifest.json)"
        )
        add_public_key_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        manifest: Path = options["manifest"] or path.with_name(f"{path.name}.manifest.json")
        for needed in (path, manifest):
            if not needed.is_file():
                raise CommandError(f"{needed} is not a file", returncode=2)
        key = public_key_from(options)
        problems = verify_report_file(path, manifest, key)
        if problems:
            for problem in problems:
                self.stderr.write(f"- {problem}")
            self.stderr.write(f"Report NOT intact: {problems[0]}")
            raise SystemExit(1)
        self.stdout.write(f"Report intact: {path.name} matches its signed manifest.")
