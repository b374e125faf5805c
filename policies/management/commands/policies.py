"""``manage.py policies export FILE`` and ``manage.py policies import FILE``: policies as YAML.

Import changes nothing when any entry is wrong, and names each problem with its line (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lifecycle.models import AuditSource
from policies.services.documents import DocumentError, export_policies, import_policies

USAGE = 2


class Command(BaseCommand):
    help = "Export every policy to a YAML file, or import (create or change) policies from one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("operation", choices=["export", "import"])
        parser.add_argument("file", help="YAML file ('-' for standard output on export)")
        parser.add_argument(
            "--user",
            help="Import as this user (a Requester): the policies' requests are made in the "
            "name of their last editor.",
        )

    def handle(self, *args: Any, operation: str, file: str, user: str | None, **options: Any):
        if operation == "export":
            self._export(file)
        else:
            self._import(file, user)

    def _export(self, file: str) -> None:
        text = export_policies()
        if file == "-":
            self.stdout.write(text, ending="")
            return
        try:
            Path(file).write_text(text)
        except OSError as error:
            raise CommandError(f"Cannot write {file}: {error.strerror}", returncode=USAGE) from None
        self.stdout.write(f"Exported {text.count('- name:')} policies to {file}.")

    def _import(self, file: str, username: str | None) -> None:
        actor = _user(username)
        try:
            text = Path(file).read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}", returncode=USAGE) from None
        try:
            imported = import_policies(actor, text, AuditSource.CLI)
        except DocumentError as error:
            raise CommandError(
                f"{file} was not imported; nothing changed:\n" + "\n".join(error.problems),
                returncode=USAGE,
            ) from None
        except PermissionDenied as error:
            raise CommandError(str(error), returncode=USAGE) from None
        self.stdout.write(f"Imported {len(imported)} policies from {file}.")


def _user(username: str | None) -> Any:
    if username is None:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"No active user {username!r}.", returncode=USAGE)
    return user
