"""Exports of the audit log (CSV, JSON lines) with a signed manifest, and their offline check.

Each export is itself an audit event (``export.created``), recorded before the first byte. It
covers the filtered events that precede that event, so the manifest can name the chain head the
export was cut at. Rows stream in keyset batches; memory stays flat at any size. The
manifest is the last line: JSON lines ``{"manifest": {...}}``, CSV ``#manifest,<json>``. It
holds the filter, count, first and last sequence, chain head, time, SHA-256 of everything
before it, and an Ed25519 signature.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db.models import QuerySet

from amidash.csv import read_spreadsheet_safe, spreadsheet_safe
from lifecycle.models import HASHED_FIELDS, AuditEvent, AuditVerb
from lifecycle.models.audit import canonical_json, canonical_record, event_hash, isoformat_utc
from lifecycle.services.audit import Actor, Target, record_event, rows_in_order
from lifecycle.services.audit_signing import sign_document, verify_document

EXPORT_FIELDS: tuple[str, ...] = (*HASHED_FIELDS, "hash")
MANIFEST_TYPE = "amidash-audit-export"
CSV_MANIFEST_MARK = "#manifest"
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
_CHUNK_ROWS = 1000
_FIRST_CHUNK_ROWS = 50  # flushed early: the download starts at once
_JSON_COLUMNS = {"before", "after"}


@dataclass
class ExportPlan:
    """An export that has been recorded and is ready to stream."""

    export_id: str
    format: str
    filters: dict[str, str]
    event: AuditEvent
    queryset: QuerySet[AuditEvent]

    @property
    def filename(self) -> str:
        stamp = self.event.occurred_at.strftime("%Y%m%dT%H%M%SZ")
        return f"amidash-audit-{stamp}-{self.export_id[:8]}.{self.format}"


@dataclass
class ContentTally:
    """What the manifest says about the rows written so far."""

    content: Any = field(default_factory=hashlib.sha256)
    count: int = 0
    first: int | None = None
    last: int | None = None

    def add(self, sequence: int, data: bytes) -> None:
        self.content.update(data)
        self.count += 1
        self.first = sequence if self.first is None else self.first
        self.last = sequence


def start_export(
    *, actor: Actor, source: str, fmt: str, filters: dict[str, str], queryset: QuerySet
) -> ExportPlan:
    """Record the ``export.created`` event and return the plan of what to stream."""
    export_id = uuid.uuid4().hex
    event = record_event(
        AuditVerb.EXPORT_CREATED,
        actor=actor,
        source=source,
        target=Target("audit_log", export_id, label=f"{fmt} export"),
        after={"format": fmt, "filter": filters},
        message=f"Exported the audit log as {fmt}",
        correlation_id=f"export:{export_id}",
    )
    covered = queryset.filter(sequence__lt=event.sequence).order_by("sequence")
    return ExportPlan(export_id, fmt, filters, event, covered)


def export_records(queryset: QuerySet[AuditEvent]) -> Iterator[dict[str, Any]]:
    """Each event as its canonical record plus its hash, streamed in sequence order."""
    for row in rows_in_order(queryset, EXPORT_FIELDS):
        values = dict(zip(EXPORT_FIELDS, row, strict=True))
        record = canonical_record(values)
        record["hash"] = values["hash"]
        yield record


def build_manifest(plan: ExportPlan, tally: ContentTally) -> dict[str, Any]:
    """The signed manifest of a finished export."""
    return sign_document(
        {
            "type": MANIFEST_TYPE,
            "version": 1,
            "export_id": plan.export_id,
            "format": plan.format,
            "filter": plan.filters,
            "created_at": isoformat_utc(plan.event.occurred_at),
            "created_by": plan.event.actor_name,
            "count": tally.count,
            "first_sequence": tally.first,
            "last_sequence": tally.last,
            "chain_head": {"sequence": plan.event.sequence - 1, "hash": plan.event.previous_hash},
            "export_event": {"sequence": plan.event.sequence, "hash": plan.event.hash},
            "content_sha256": tally.content.hexdigest(),
        }
    )


def stream_jsonl(plan: ExportPlan, records: Iterable[dict] | None = None) -> Iterator[bytes]:
    tally, buffer = ContentTally(), []
    for record in records if records is not None else export_records(plan.queryset):
        line = (canonical_json(record) + "\n").encode()
        tally.add(record["sequence"], line)
        buffer.append(line)
        if len(buffer) >= _CHUNK_ROWS or tally.count == _FIRST_CHUNK_ROWS:
            yield b"".join(buffer)
            buffer.clear()
    yield (
        b"".join(buffer)
        + (canonical_json({"manifest": build_manifest(plan, tally)}) + "\n").encode()
    )


def _csv_line(values: list[Any]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(values)
    return text.getvalue().encode()


def _csv_cell(name: str, value: Any) -> Any:
    if name in _JSON_COLUMNS:
        return spreadsheet_safe(canonical_json(value))
    return "" if value is None else spreadsheet_safe(value)


def stream_csv(plan: ExportPlan, records: Iterable[dict] | None = None) -> Iterator[bytes]:
    tally = ContentTally()
    header = _csv_line(list(EXPORT_FIELDS))
    tally.content.update(header)
    buffer = [header]
    for record in records if records is not None else export_records(plan.queryset):
        line = _csv_line([_csv_cell(name, record[name]) for name in EXPORT_FIELDS])
        tally.add(record["sequence"], line)
        buffer.append(line)
        if len(buffer) >= _CHUNK_ROWS or tally.count == _FIRST_CHUNK_ROWS:
            yield b"".join(buffer)
            buffer.clear()
    manifest = canonical_json(build_manifest(plan, tally))
    yield b"".join(buffer) + _csv_line([CSV_MANIFEST_MARK, manifest])


def stream_export(plan: ExportPlan) -> Iterator[bytes]:
    return stream_csv(plan) if plan.format == "csv" else stream_jsonl(plan)


# --- offline verification ------------------------------------------------------------------


class ExportFormatError(Exception):
    """The file is not an amidash audit export."""


@dataclass
class ExportCheck:
    """The outcome of checking an export file against its manifest."""

    path: str
    count: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            head = self.manifest.get("chain_head", {})
            return (
                f"Export intact: {self.count} events (#{self.manifest.get('first_sequence')}"
                f"..#{self.manifest.get('last_sequence')}), cut at chain head "
                f"#{head.get('sequence')}, signed by {self.manifest.get('public_key_fingerprint')}."
            )
        return f"Export NOT intact: {self.problems[0]}"


class _HashedLines:
    """Lines of a binary file, each hashed once the next one is read: the last stays out."""

    def __init__(self, handle: BinaryIO) -> None:
        self._lines = iter(handle)
        self.content = hashlib.sha256()
        self.pending: bytes | None = None

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            if self.pending is not None:
                self.content.update(self.pending)
            self.pending = line
            yield line.decode("utf-8")


def _record_from_csv(row: list[str], header: list[str]) -> dict[str, Any]:
    if len(row) != len(header):
        raise ValueError(f"a row has {len(row)} columns, the header {len(header)}")
    cells = [read_spreadsheet_safe(cell) for cell in row]
    record: dict[str, Any] = dict(zip(header, cells, strict=True))
    record["sequence"] = int(record["sequence"])
    record["actor_id"] = int(record["actor_id"]) if record["actor_id"] else None
    for name in _JSON_COLUMNS:
        record[name] = json.loads(record[name])
    return record


def _read_jsonl(lines: _HashedLines) -> Iterator[dict[str, Any]]:
    for line in lines:
        yield json.loads(line)


def _read_csv(lines: _HashedLines) -> Iterator[dict[str, Any]]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if header != list(EXPORT_FIELDS):
        raise ExportFormatError("the CSV header is not that of an amidash audit export")
    for row in reader:
        if row and row[0] == CSV_MANIFEST_MARK:
            yield {"manifest": json.loads(row[1])}
        else:
            yield _record_from_csv(row, header)


class _RecordChecks:
    """Per-record checks: own hash, order, and links between consecutive sequences."""

    def __init__(self, check: ExportCheck) -> None:
        self.check = check
        self.first: int | None = None
        self.last: dict[str, Any] | None = None

    def add(self, record: dict[str, Any]) -> None:
        sequence = record.get("sequence")
        self.check.count += 1
        if set(record) != set(EXPORT_FIELDS):
            self._problem(f"line {self.check.count} is not an audit event record")
            return
        if event_hash(record) != record["hash"]:
            self._problem(f"event #{sequence} was edited (it does not match its hash)")
        previous = self.last
        if previous is not None and sequence <= previous["sequence"]:
            self._problem(f"event #{sequence} is out of order (after #{previous['sequence']})")
        if (
            previous is not None
            and sequence == previous["sequence"] + 1
            and record["previous_hash"] != previous["hash"]
        ):
            self._problem(f"event #{sequence} does not link to event #{previous['sequence']}")
        self.first = sequence if self.first is None else self.first
        self.last = record

    def _problem(self, text: str) -> None:
        self.check.problems.append(text)


def _compare_manifest(check: ExportCheck, records: _RecordChecks, content_sha256: str) -> None:
    manifest = check.manifest
    if manifest.get("type") != MANIFEST_TYPE:
        check.problems.insert(0, "the manifest is not an amidash audit export manifest")
        return
    last = records.last["sequence"] if records.last else None
    expected = {
        "count": check.count,
        "first_sequence": records.first,
        "last_sequence": last,
        "content_sha256": content_sha256,
    }
    for name, value in expected.items():
        if manifest.get(name) != value:
            check.problems.append(
                f"the manifest says {name} {manifest.get(name)!r}, the file has {value!r} "
                "(events were added, removed or changed)"
            )
    head = (manifest.get("chain_head") or {}).get("sequence")
    if last is not None and isinstance(head, int) and last > head:
        check.problems.append(f"event #{last} is after the chain head the export was cut at")


def verify_export_file(path: Path | str, public_key: Ed25519PublicKey) -> ExportCheck:
    """Check an exported JSON lines or CSV file against its signed manifest, offline."""
    check = ExportCheck(str(path))
    records = _RecordChecks(check)
    with open(path, "rb") as handle:
        first = handle.read(1)
        handle.seek(0)
        lines = _HashedLines(handle)
        reader = _read_jsonl(lines) if first == b"{" else _read_csv(lines)
        try:
            for item in reader:
                if check.manifest:
                    raise ExportFormatError("there is data after the manifest")
                if "manifest" in item and len(item) == 1:
                    check.manifest = item["manifest"]
                else:
                    records.add(item)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise ExportFormatError(f"cannot read line {check.count + 1}: {error}") from None
    if not check.manifest:
        raise ExportFormatError("the file has no manifest (was it cut short?)")
    _compare_manifest(check, records, lines.content.hexdigest())
    signature_error = verify_document(check.manifest, public_key)
    if signature_error:
        check.problems.insert(0, f"the manifest cannot be trusted: {signature_error}")
    return check
