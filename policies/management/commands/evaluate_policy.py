"""``manage.py evaluate_policy NAME [--format table|csv|json] [--propose]``: a policy's plan.

Prints one entry per image in scope with its decision and reasons; ``--propose`` also stores
the plan and makes its lifecycle requests (they still need an approval). Exit 2 for a usage
error or an unknown policy.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.exports import iter_csv
from lifecycle.models import AuditSource
from policies.models import Policy
from policies.services.evaluation import Plan, evaluate
from policies.services.plans import save_plan
from policies.services.proposals import propose

CSV_FIELDS = ["image_id", "account_id", "region", "name", "family", "decision", "reasons"]


class Command(BaseCommand):
    help = "Print a retention policy's plan (a dry run); --propose makes its requests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
        parser.add_argument("--propose", action="store_true")

    def handle(self, *args: Any, name: str, format: str, propose: bool, **options: Any) -> None:
        policy = Policy.objects.select_related("updated_by").filter(name=name).first()
        if policy is None:
            raise CommandError(f"No policy named {name!r}.", returncode=2)
        plan = evaluate(policy)
        {"table": self._table, "csv": self._csv, "json": self._json}[format](plan)
        if propose:
            self._propose(plan)

    def _json(self, plan: Plan) -> None:
        document = {
            "policy": plan.policy.name,
            "evaluated_at": plan.evaluated_at.isoformat().replace("+00:00", "Z"),
            "images": [row.record() for row in plan.rows],
        }
        self.stdout.write(json.dumps(document, indent=2))

    def _csv(self, plan: Plan) -> None:
        rows = ({**r.record(), "reasons": "; ".join(r.reasons)} for r in plan.rows)
        for chunk in iter_csv(rows, CSV_FIELDS):
            self.stdout.write(chunk, ending="")

    def _table(self, plan: Plan) -> None:
        for row in plan.rows:
            image = row.image
            self.stdout.write(
                f"{image.image_id:<21} {image.account_id}/{image.region:<14} "
                f"{row.decision:<10} {image.name[:40]:<40} {'; '.join(row.reasons)}"
            )
        counts = ", ".join(f"{n} {d}" for d, n in _counts(plan).items() if n)
        self.stdout.write(f"Policy {plan.policy.name}: {len(plan.rows)} images in scope: {counts}")

    def _propose(self, plan: Plan) -> None:
        stored = save_plan(plan, None, AuditSource.CLI)
        made = propose(plan, stored, None, AuditSource.CLI)
        for request in made:
            self.stderr.write(f"Proposed request #{request.pk}: {request.action}")
        for error in stored.proposal_errors:
            self.stderr.write(f"Not proposed: {error}")


def _counts(plan: Plan) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in plan.rows:
        counts[row.decision] = counts.get(row.decision, 0) + 1
    return counts
