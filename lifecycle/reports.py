"""The PDF lifecycle history report of a filtered audit log (fpdf2, pure Python).

Scope and period first, then summary tables (actions by type and outcome, approvals by
approver, changes made outside the product, failed and stale executions), then the events
(at most ``AUDIT_PDF_MAX_EVENTS``; CSV and JSON lines exports carry every event), and the signed
manifest. The summaries are computed in one streamed pass, so their memory does not grow with
the log; only the listed events are held.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from fpdf import FPDF
from fpdf.fonts import FontFace

from lifecycle.exports import ContentTally, ExportPlan, build_manifest, export_records
from lifecycle.models import ActorType, AuditEvent, AuditVerb
from lifecycle.models.audit import canonical_json, target_display

OBSERVED_CHANGES = {
    AuditVerb.IMAGE_STATE_CHANGED,
    AuditVerb.IMAGE_DEPRECATION_CHANGED,
    AuditVerb.IMAGE_GONE,
}
#: Verbs counted in "Actions by type and outcome": what happened to a request or an item, not
#: the steps of carrying it out (claimed, started, completed).
ACTION_VERBS = {
    AuditVerb.REQUEST_CREATED,
    AuditVerb.REQUEST_APPROVED,
    AuditVerb.REQUEST_REJECTED,
    AuditVerb.REQUEST_CANCELLED,
    AuditVerb.REQUEST_EXPIRED,
    AuditVerb.ITEM_EXECUTED,
    AuditVerb.ITEM_FAILED,
    AuditVerb.ITEM_STALE,
}
_LISTED_ROWS = 200


def _action_in(record: dict[str, Any]) -> str | None:
    for side in ("after", "before"):
        data = record.get(side)
        if isinstance(data, dict) and data.get("action"):
            return str(data["action"])
    return None


def request_action(correlation_id: str) -> str | None:
    """The action of the request an item belongs to, from its ``request.created`` event."""
    event = (
        AuditEvent.objects.filter(correlation_id=correlation_id, verb=AuditVerb.REQUEST_CREATED)
        .values_list("after", flat=True)
        .first()
    )
    return str(event["action"]) if isinstance(event, dict) and event.get("action") else None


@dataclass
class ReportSummary:
    """Everything the report says, gathered in one pass over the events (oldest first)."""

    limit: int
    find_action: Callable[[str], str | None] = request_action
    total: int = 0
    first_time: str = ""
    last_time: str = ""
    actions: Counter = field(default_factory=Counter)
    approvals: Counter = field(default_factory=Counter)
    outside: list[dict[str, Any]] = field(default_factory=list)
    outside_count: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    failure_count: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    tally: ContentTally = field(default_factory=ContentTally)
    _executed: set[tuple[str, str, str, str]] = field(default_factory=set)
    _actions: dict[str, str | None] = field(default_factory=dict)

    def action_of(self, record: dict[str, Any]) -> str:
        """The record's action, or that of its request (items carry the request's id only)."""
        action = _action_in(record)
        correlation = record.get("correlation_id") or ""
        if action is None and correlation.startswith("request:"):
            if correlation not in self._actions:
                self._actions[correlation] = self.find_action(correlation)
            action = self._actions[correlation]
        elif action and correlation.startswith("request:"):
            self._actions[correlation] = action
        return action or record["target_type"] or "-"

    def add(self, record: dict[str, Any]) -> None:
        self.total += 1
        self.first_time = self.first_time or record["occurred_at"]
        self.last_time = record["occurred_at"]
        verb = record["verb"]
        if verb in ACTION_VERBS:
            self.actions[(self.action_of(record), verb.split(".", 1)[1])] += 1
        if verb in {AuditVerb.REQUEST_APPROVED, AuditVerb.REQUEST_REJECTED}:
            self.approvals[(record["actor_name"], verb.split(".", 1)[1])] += 1
        self._track_outside_changes(record)
        if verb in {AuditVerb.ITEM_FAILED, AuditVerb.ITEM_STALE}:
            self.failure_count += 1
            if len(self.failures) < _LISTED_ROWS:
                self.failures.append(record)
        if len(self.events) < self.limit:
            self.events.append(record)
            self.tally.add(record["sequence"], (canonical_json(record) + "\n").encode())

    def _track_outside_changes(self, record: dict[str, Any]) -> None:
        """An observed image change with no execution by the product since the last one."""
        key = (
            record["target_type"],
            record["target_id"],
            record["target_account"],
            record["target_region"],
        )
        if record["verb"] == AuditVerb.ITEM_EXECUTED:
            self._executed.add(key)
        elif record["verb"] in OBSERVED_CHANGES and record["actor_type"] == ActorType.SYSTEM:
            if key in self._executed:
                self._executed.discard(key)
            else:
                self.outside_count += 1
                if len(self.outside) < _LISTED_ROWS:
                    self.outside.append(record)


def summarize(
    records: Iterable[dict[str, Any]],
    limit: int,
    find_action: Callable[[str], str | None] = request_action,
) -> ReportSummary:
    summary = ReportSummary(limit=limit, find_action=find_action)
    for record in records:
        summary.add(record)
    return summary


def _latin(text: Any) -> str:
    """The core PDF fonts speak Latin-1 only; anything else becomes '?'."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 8, f"amidash lifecycle history report - page {self.page_no()}", align="C")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, _latin(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)


def _table(pdf: FPDF, header: list[str], rows: Iterable[Iterable[Any]], widths: tuple) -> None:
    rows = list(rows)
    if not rows:
        pdf.cell(0, 6, "None.", new_x="LMARGIN", new_y="NEXT")
        return
    with pdf.table(
        col_widths=widths,
        text_align="LEFT",
        line_height=4,
        headings_style=FontFace(emphasis="BOLD", fill_color=(238, 241, 245)),
    ) as table:
        for values in [header, *rows]:
            row = table.row()
            for value in values:
                row.cell(_latin(value))


def _event_rows(records: Iterable[dict[str, Any]]) -> Iterable[list[Any]]:
    for record in records:
        target = record["target_repr"] or record["target_id"]
        where = "/".join(
            part for part in (record["target_account"], record["target_region"]) if part
        )
        yield [
            record["sequence"],
            record["occurred_at"][:19].replace("T", " "),
            record["actor_name"],
            record["verb"],
            f"{target_display(record['target_type'], target)} {where}".strip(),
            record["message"][:160],
        ]


def render_report(plan: ExportPlan, summary: ReportSummary, scope: str) -> bytes:
    """The report as PDF bytes (the manifest covers the events listed in it)."""
    pdf = _Report(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Lifecycle history report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    period = f"{summary.first_time or '-'} to {summary.last_time or '-'}"
    for line in (
        f"Scope: {scope}",
        f"Period of the events: {period} (UTC)",
        f"Events in scope: {summary.total}, cut at chain head #{plan.event.sequence - 1}",
        f"Generated by {plan.event.actor_name} at {plan.event.occurred_at:%Y-%m-%d %H:%M:%S} UTC "
        f"(audit event #{plan.event.sequence})",
    ):
        pdf.cell(0, 5, _latin(line), new_x="LMARGIN", new_y="NEXT")
    _heading(pdf, "Actions by type and outcome")
    actions = sorted(summary.actions.items())
    _table(pdf, ["Action", "Outcome", "Count"], [[a, o, n] for (a, o), n in actions], (60, 60, 30))
    _heading(pdf, "Approvals by approver")
    people = sorted({name for name, _ in summary.approvals})
    approvals = [
        [name, summary.approvals[(name, "approved")], summary.approvals[(name, "rejected")]]
        for name in people
    ]
    _table(pdf, ["Approver", "Approved", "Rejected"], approvals, (60, 30, 30))
    _heading(pdf, f"Changes made outside the product ({summary.outside_count})")
    _table(
        pdf,
        ["#", "Observed", "By", "Verb", "Target", "Message"],
        _event_rows(summary.outside),
        (16, 34, 28, 44, 80, 75),
    )
    _heading(pdf, f"Failed and stale executions ({summary.failure_count})")
    _table(
        pdf,
        ["#", "Time", "By", "Verb", "Target", "Message"],
        _event_rows(summary.failures),
        (16, 34, 28, 44, 80, 75),
    )
    listed = len(summary.events)
    _heading(pdf, f"Events ({listed} of {summary.total})")
    if listed < summary.total:
        pdf.cell(
            0,
            5,
            f"The first {listed} events are listed; the CSV and JSON lines exports "
            "carry all of them.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    _table(
        pdf,
        ["#", "Time", "By", "Verb", "Target", "Message"],
        _event_rows(summary.events),
        (16, 34, 28, 44, 80, 75),
    )
    _manifest_page(pdf, build_manifest(plan, summary.tally))
    return bytes(pdf.output())


def _manifest_page(pdf: FPDF, manifest: dict[str, Any]) -> None:
    pdf.add_page()
    _heading(pdf, "Signed manifest")
    pdf.set_font("Courier", size=7)
    pdf.multi_cell(0, 3.5, _latin(canonical_json(manifest)))
    pdf.set_font("Helvetica", size=8)
    pdf.ln(2)
    pdf.multi_cell(
        0,
        4,
        "content_sha256 is the SHA-256 of the listed events as canonical JSON lines (the same "
        "lines a JSON lines export of this filter starts with). The signature is Ed25519 over "
        "the canonical JSON of the manifest without its signature; the public key is on the "
        "Audit page.",
    )


def build_report(plan: ExportPlan, scope: str) -> bytes:
    summary = summarize(export_records(plan.queryset), settings.AUDIT_PDF_MAX_EVENTS)
    return render_report(plan, summary, scope)
