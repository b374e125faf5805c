"""Write the audit report of a period: ``audit_report --from DATE --to DATE --output FILE``.

Arguments are checked by the same form as the Audit page's report form, so both accept the
same periods and scopes; bad ones exit 2 with the form's message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lifecycle.filtersets import ReportScopeForm
from lifecycle.models import AuditSource
from lifecycle.reports import REPORT_FORMATS, build_report


class Command(BaseCommand):
    help = "Write the audit report of a period (summary, exceptions, attestation, events)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (UTC)")
        parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (UTC), included")
        parser.add_argument("--preset", help="last_month, last_quarter or year_to_date")
        parser.add_argument("--account", action="append", default=[], help="repeatable")
        parser.add_argument("--region", action="append", default=[], help="repeatable")
        parser.add_argument("--family", action="append", default=[], help="repeatable")
        parser.add_argument("--image", default="", help="one image id")
        parser.add_argument("--format", default="pdf", choices=sorted(REPORT_FORMATS))
        parser.add_argument("--output", type=Path, required=True, help="file to write")
        parser.add_argument(
            "--full-verification",
            action="store_true",
            help="the PDF's attestation re-hashes every event instead of resuming from the "
            "latest signed digest",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        form = ReportScopeForm(
            {
                "preset": options["preset"] or "",
                "start": options["start"] or "",
                "end": options["end"] or "",
                "accounts": ",".join(options["account"]),
                "regions": ",".join(options["region"]),
                "families": ",".join(options["family"]),
                "image": options["image"],
            }
        )
        if not form.is_valid():
            raise CommandError(_first_error(form), returncode=2)
        output: Path = options["output"]
        if not output.parent.is_dir():
            raise CommandError(f"{output.parent} is not a folder", returncode=2)
        plan, body = build_report(
            actor=None,
            source=AuditSource.CLI,
            scope=form.scope(),
            fmt=options["format"],
            full_verification=options["full_verification"],
        )
        output.write_bytes(body)
        self.stdout.write(f"Wrote {output} (audit event #{plan.event.sequence}).")


def _first_error(form: ReportScopeForm) -> str:
    for field, errors in form.errors.items():
        name = "" if field == "__all__" else f"{field}: "
        return f"{name}{errors[0]}"
    return "Invalid arguments."
