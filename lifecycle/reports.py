"""The audit report of a period as PDF (fpdf2, pure Python), and as CSV or JSON lines figures.

An auditor reads it in this order: the summary (page one), the exceptions, the attestation (is
the chain intact, which key signed it, how to check it offline), then the events in an appendix
grouped by day (at most ``AUDIT_PDF_MAX_EVENTS``; the CSV and JSON lines exports carry every
event) and the signed manifest as readable lines. Every figure comes from
``lifecycle.services.report_figures``, which the CSV and JSON lines formats read too. A page of
charts (``lifecycle/pdf_charts.py``, from ``lifecycle.services.report_charts``) follows the
summary.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any

from django.conf import settings
from fpdf import FPDF
from fpdf.fonts import FontFace

from amidash.csv import spreadsheet_safe
from lifecycle.exports import (
    ContentTally,
    ExportPlan,
    build_manifest,
    export_records,
    start_export,
)
from lifecycle.models.audit import canonical_json, target_display
from lifecycle.pdf_charts import draw_chart
from lifecycle.services.audit import Actor
from lifecycle.services.audit_digests import DigestError, load_digests
from lifecycle.services.audit_signing import SigningKeyError, default_public_key, fingerprint
from lifecycle.services.audit_verification import verify_configured
from lifecycle.services.report_charts import chart_rows, report_charts
from lifecycle.services.report_figures import (
    IMAGE_OUTCOMES,
    Latency,
    ReportFigures,
    ReportScope,
    compute_figures,
)

EVENT_COLUMNS = (16, 28, 28, 44, 90, 71)
_LISTED_ROWS = 200


def _latin(text: Any) -> str:
    """The core PDF fonts speak Latin-1 only; anything else becomes '?'."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 8, f"amidash audit report - page {self.page_no()}", align="C")


def _heading(pdf: FPDF, text: str, size: int = 12) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", size)
    pdf.cell(0, 7, _latin(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)


def _line(pdf: FPDF, text: str) -> None:
    pdf.multi_cell(0, 4.5, _latin(text), new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, header: list[str], rows: Iterable[Iterable[Any]], widths: tuple) -> None:
    rows = list(rows)
    if not rows:
        _line(pdf, "None.")
        return
    with pdf.table(
        col_widths=widths,
        width=sum(widths),
        align="LEFT",
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
            record["occurred_at"][11:19],
            record["actor_name"],
            record["verb"],
            f"{target_display(record['target_type'], target)} {where}".strip(),
            record["message"][:160],
        ]


def _model_rows(events: Iterable[Any]) -> list[list[Any]]:
    """Rows of audit events (model instances) for the exceptions tables."""
    return [
        [
            e.sequence,
            f"{e.occurred_at:%Y-%m-%d %H:%M}",
            e.actor_name,
            e.verb,
            f"{target_display(e.target_type, e.target_repr or e.target_id)}",
            e.message[:160],
        ]
        for e in list(events)[:_LISTED_ROWS]
    ]


def _summary(pdf: FPDF, figures: ReportFigures) -> None:
    _heading(pdf, "Summary")
    _heading(pdf, "Actions by type and outcome", 10)
    actions = sorted(figures.actions.items())
    _table(pdf, ["Action", "Outcome", "Count"], [[a, o, n] for (a, o), n in actions], (50, 40, 20))
    _heading(pdf, "Images changed by amidash, storage freed, open requests, the estate", 10)
    rows = [[outcome.capitalize(), figures.images[outcome]] for outcome in IMAGE_OUTCOMES.values()]
    rows += [
        ["Snapshot storage freed", f"{figures.storage_freed_gib} GiB"],
        ["Monthly cost freed (estimate)", f"{figures.cost_freed} USD"],
        ["Requests open at period end", figures.open_at_end],
        *_estate_rows(figures),
    ]
    _table(pdf, ["Figure", "Value"], rows, (70, 40))
    _heading(pdf, "Time taken", 10)
    _table(pdf, ["From - to", "Median", "95th percentile", "Requests"], _latency_rows(figures),
           (70, 30, 30, 20))  # fmt: skip


def _estate_rows(figures: ReportFigures) -> list[list[Any]]:
    """The estate at the period's end: the last point of the estate chart."""
    if not figures.estate:
        return []
    last = figures.estate[-1]
    share = "-" if last.unused_share is None else f"{last.unused_share} %"
    return [
        [f"Images in scope at {last.at:%Y-%m-%d %H:%M}", last.images],
        [f"Unused at {last.at:%Y-%m-%d %H:%M}", f"{last.unused} ({share})"],
    ]


def _latency_rows(figures: ReportFigures) -> list[list[Any]]:
    pairs: list[tuple[str, Latency]] = [
        ("Request to approval", figures.to_approval),
        ("Approval to execution finished", figures.to_execution),
    ]
    return [
        [name, _duration(lat.median), _duration(lat.p95), len(lat.seconds)] for name, lat in pairs
    ]


def _charts(pdf: FPDF, figures: ReportFigures) -> None:
    """The charts page: four charts in a 2 x 2 grid, drawn as vectors from the figures."""
    _heading(pdf, "Charts")
    gap, top = 8.0, pdf.get_y() + 1
    width = (pdf.w - pdf.l_margin - pdf.r_margin - gap) / 2
    height = (pdf.h - top - 16 - gap) / 2
    for index, chart in enumerate(report_charts(figures)):
        row, column = divmod(index, 2)
        x = pdf.l_margin + column * (width + gap)
        draw_chart(pdf, chart, x, top + row * (height + gap), width, height)


def _exceptions(pdf: FPDF, figures: ReportFigures) -> None:
    _heading(pdf, "Exceptions")
    _heading(pdf, f"In-use guard overridden ({len(figures.overrides)})", 10)
    overrides = [
        [
            o["event"].target_repr or o["event"].target_id,
            o["event"].actor_name,
            ", ".join(o["approvers"]) or "not approved",
            (o["event"].after or {}).get("override_reason", ""),
        ]
        for o in figures.overrides
    ]
    _table(pdf, ["Request", "Requested by", "Approved by", "Justification"], overrides,
           (50, 35, 45, 147))  # fmt: skip
    sections = [
        ("Refused decisions", figures.refused),
        ("Failed and stale items", figures.failed),
        ("Expired requests", figures.expired),
        ("Changes to who may act", figures.access_changes),
        ("Sign-in lockouts", figures.lockouts),
    ]
    for title, events in sections:
        _heading(pdf, f"{title} ({len(events)})", 10)
        _table(pdf, ["#", "Time", "By", "Verb", "Target", "Message"], _model_rows(events),
               EVENT_COLUMNS)  # fmt: skip
    _heading(pdf, f"Changes made outside amidash ({len(figures.outside)})", 10)
    outside = sorted(figures.outside_by_account.items())
    _table(pdf, ["Account", "Change", "Images"], [[a, k, n] for (a, k), n in outside], (40, 80, 20))
    _heading(pdf, "Who made them, from CloudTrail", 10)
    who = [[c.sequence, f"{c.occurred_at:%Y-%m-%d %H:%M}", c.image_id, f"{c.account}/{c.region}",
            c.kind, c.cloudtrail] for c in figures.outside[:_LISTED_ROWS]]  # fmt: skip
    _table(pdf, ["#", "Observed", "Image", "Where", "Change", "CloudTrail"], who,
           (14, 26, 40, 40, 40, 117))  # fmt: skip
    _heading(pdf, f"Changes made by amidash, in CloudTrail ({len(figures.amidash_changes)})", 10)
    own = [[c.sequence, f"{c.occurred_at:%Y-%m-%d %H:%M}", c.image_id, f"{c.account}/{c.region}",
            c.kind, c.cloudtrail] for c in figures.amidash_changes[:_LISTED_ROWS]]  # fmt: skip
    _table(pdf, ["#", "Executed", "Image", "Where", "Action", "CloudTrail"], own,
           (14, 26, 40, 40, 40, 117))  # fmt: skip


def _attestation(pdf: FPDF, manifest: dict[str, Any], *, full: bool) -> None:
    _heading(pdf, "Attestation")
    result = verify_configured(full=full)
    _line(pdf, f"Hash chain: {result.summary()}")
    _line(pdf, f"This report's events: #{manifest['first_sequence']} to "
               f"#{manifest['last_sequence']} ({manifest['count']} listed).")  # fmt: skip
    try:
        _line(pdf, f"Signing key fingerprint: {fingerprint(default_public_key())}")
    except SigningKeyError as error:
        _line(pdf, f"Signing key: {error}")
    _line(pdf, _covering_digest(manifest["last_sequence"]))
    _line(pdf, "To verify offline, with the public key from the Audit page saved as key.pem:")
    pdf.set_font("Courier", size=8)
    for command in (
        "python manage.py verify_audit_log --public-key key.pem",
        "python manage.py verify_export amidash-audit-<export>.jsonl --public-key key.pem",
    ):
        _line(pdf, f"  {command}")
    pdf.set_font("Helvetica", size=8)


def _covering_digest(last_sequence: int | None) -> str:
    """The first signed digest whose chain head is at or after the period's last event."""
    try:
        digests = load_digests()
    except DigestError as error:
        return f"Signed digests unreadable: {error}"
    for digest in digests:
        if last_sequence is not None and digest.last_sequence >= last_sequence:
            return (
                f"Signed digest covering event #{last_sequence}: {digest.path.name} "
                f"(head #{digest.last_sequence} {digest.chain_head}, file SHA-256 {digest.sha256})"
            )
    return "No signed digest covers the period's last event yet (digests are written hourly)."


def _listed(plan: ExportPlan, limit: int) -> tuple[list[dict[str, Any]], ContentTally, bool]:
    """The first ``limit`` events of the plan, the tally the manifest signs, and whether more
    events were left out."""
    tally, listed = ContentTally(), []
    for record in export_records(plan.queryset):
        if tally.count >= limit:
            return listed, tally, True
        tally.add(record["sequence"], (canonical_json(record) + "\n").encode())
        listed.append(record)
    return listed, tally, False


def _appendix(pdf: FPDF, listed: list[dict[str, Any]], more: bool) -> None:
    """The listed events grouped by day."""
    pdf.add_page()
    _heading(pdf, f"Appendix: the events ({len(listed)} listed)")
    if more:
        _line(pdf, f"Only the first {len(listed)} events are listed; the full CSV or JSON lines "
                   "export of the same period carries all of them.")  # fmt: skip
    for day, records in groupby(listed, key=lambda r: r["occurred_at"][:10]):
        _heading(pdf, day, 10)
        _table(pdf, ["#", "Time", "By", "Verb", "Target", "Message"], _event_rows(records),
               EVENT_COLUMNS)  # fmt: skip


def _manifest(pdf: FPDF, manifest: dict[str, Any]) -> None:
    pdf.add_page()
    _heading(pdf, "Signed manifest")
    pdf.set_font("Courier", size=8)
    for key, value in manifest.items():
        shown = value if isinstance(value, str | int) or value is None else canonical_json(value)
        _line(pdf, f"{key}: {shown}")
    pdf.set_font("Helvetica", size=8)
    _line(pdf, "content_sha256 is the SHA-256 of the listed events as canonical JSON lines (the "
               "lines a JSON lines export of this period starts with). The signature is Ed25519 "
               "over the canonical JSON of the manifest without its signature.")  # fmt: skip


def render_report(
    plan: ExportPlan, figures: ReportFigures, *, full_verification: bool = False
) -> bytes:
    """The report as PDF bytes: summary first, then exceptions, attestation, appendix. The
    attestation verifies the chain resumed from the latest signed digest, or in full."""
    pdf = _Report(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, "Audit report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    _line(pdf, f"Period and scope: {figures.scope.describe()}; {figures.events} events")
    _line(pdf, f"Generated by {plan.event.actor_name} at {plan.event.occurred_at:%Y-%m-%d %H:%M} "
               f"UTC (audit event #{plan.event.sequence})")  # fmt: skip
    _summary(pdf, figures)
    pdf.add_page()
    _charts(pdf, figures)
    pdf.add_page()
    _exceptions(pdf, figures)
    listed, tally, more = _listed(plan, settings.AUDIT_PDF_MAX_EVENTS)
    manifest = build_manifest(plan, tally)
    pdf.add_page()
    _attestation(pdf, manifest, full=full_verification)
    _appendix(pdf, listed, more)
    _manifest(pdf, manifest)
    return bytes(pdf.output())


def figure_lines(figures: ReportFigures, fmt: str) -> Iterator[str]:
    """The figures, then every point of the charts, as CSV (section, figure, value) or JSON
    lines, one figure a line."""
    if fmt == "jsonl":
        for section, name, value in (*figures.rows(), *chart_rows(figures)):
            yield json.dumps({"section": section, "figure": name, "value": value}) + "\n"
        return
    for row in [("section", "figure", "value"), *figures.rows(), *chart_rows(figures)]:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerow(
            ["" if v is None else spreadsheet_safe(v) for v in row]
        )
        yield text.getvalue()


REPORT_FORMATS = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}


def build_report(
    *,
    actor: Actor,
    source: str,
    scope: ReportScope,
    fmt: str,
    queryset: Any = None,
    full_verification: bool = False,
) -> tuple[ExportPlan, bytes]:
    """Record the report as an export, compute its figures and return it in ``fmt``.

    The figures read the events the export covers (``queryset`` narrows them further), so the
    export's own event is never counted in its report.
    """
    events = scope.events(queryset)
    plan = start_export(
        actor=actor, source=source, fmt=fmt, filters=scope.filters(), queryset=events
    )
    figures = compute_figures(scope, plan.queryset)
    if fmt == "pdf":
        return plan, render_report(plan, figures, full_verification=full_verification)
    return plan, "".join(figure_lines(figures, fmt)).encode()
