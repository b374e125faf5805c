"""``manage.py export_inventory --format csv|json``: every image ever seen, to stdout."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from inventory.exports import FORMATS, stream_export


class Command(BaseCommand):
    help = "Write the inventory export (one record per image ever seen) to stdout, streaming."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=FORMATS, default="csv", dest="export_format")

    def handle(self, *args: Any, export_format: str, **options: Any) -> None:
        for chunk in stream_export(export_format):
            self.stdout.write(chunk, ending="")
        self.stdout.flush()
