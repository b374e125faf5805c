"""``create_api_token USERNAME --scopes read[,request,approve] [--expires DAYS] [--name NAME]``.

Prints the token once, alone as the last word of the last line, so scripts can take it with
``tail -n1 | awk '{print $NF}'``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.services import create_token
from lifecycle.models import AuditSource


class Command(BaseCommand):
    help = "Create an API token for a user and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--scopes", default="read", help="read, request, approve; comma-separated"
        )
        parser.add_argument("--expires", type=int, default=None, help="days until it expires")
        parser.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args: Any, username: str, scopes: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        try:
            issued = create_token(
                user, user, options["name"] or f"{username} (command line)", scopes.split(","),
                options["expires"], AuditSource.CLI,
            )  # fmt: skip
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Scopes: {', '.join(issued.token.scopes)}; prefix {issued.token.prefix}")
        self.stdout.write(f"Token: {issued.secret}")
