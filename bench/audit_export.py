"""Benchmark: export and verification of a large audit log (issue "Scale": 10,000,000 events).

    DEBUG=true DATABASE_URL=postgres://... python bench/audit_export.py [--events 10000000]

Works in a scratch database (``<name>_auditbench``) that it creates, migrates and drops at the
end (``--keep`` keeps it for a re-run, which loads only what is missing). Loads the events with
COPY in text form: each event's canonical JSON is filled into a template and hashed in Python,
chained to the one before (checked against ``event_hash`` for the first rows), with the secondary
indexes dropped during the load and built again after it. A signed digest is written
``--after-digest`` events before the head, as the hourly digest task would have.

It then measures, with ratios against baselines taken in the same run:

- export through the real view: time to first byte and peak RSS growth of a full JSON lines and
  CSV export, of a small one (the last minutes of the log), of one filtered to the last percent
  of the log by time and of 30 days from 40% of the log (a month in the middle); baseline: a
  bare keyset read of every row;
- verification: resumed from the latest digest against the full walk (the baseline).

Goals (printed as met / not met): first byte under 1 s, unfiltered and time-filtered; a full
export's peak memory within 32 MiB of a small export's (constant memory); resumed verification
at least 10x faster than the full walk.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from bench.scratch import drop_database, use_scratch_database  # noqa: E402
from lifecycle.models.audit import HASHED_FIELDS, AuditVerb, event_hash  # noqa: E402

COLUMNS = [*HASHED_FIELDS, "hash"]
VERBS = [
    AuditVerb.IMAGE_APPEARED,
    AuditVerb.IMAGE_STATE_CHANGED,
    AuditVerb.REQUEST_CREATED,
    AuditVerb.ITEM_EXECUTED,
    AuditVerb.AUTH_LOGIN,
]


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


_START = datetime(2026, 1, 1, tzinfo=UTC)
_REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")
_BEFORE = '{"public":false,"state":"available"}'
_AFTER = '{"deprecation_time":null,"public":false,"state":"disabled"}'
_AFTER_LITERAL = _AFTER.replace("{", "{{").replace("}", "}}")  # inside the format templates
# The canonical JSON of a generated event (keys sorted), and its COPY line (text format, the
# columns of COLUMNS): the generated values need no escaping in either.
_CANONICAL = (
    '{{"actor_id":null,"actor_name":"sync","actor_type":"system","after":' + _AFTER_LITERAL + ","
    '"before":{before},"correlation_id":"sync:{batch}","message":"Observed change number {n}",'
    '"occurred_at":"{at}","previous_hash":"{previous}","sequence":{n},"source":"sync",'
    '"target_account":"{account}","target_id":"ami-{n:017x}","target_region":"{region}",'
    '"target_repr":"web-server-{repr_a}.{repr_b}","target_type":"image","verb":"{verb}"}}'
)
_LINE = (
    "{n}\t{at}\t\\N\tsystem\tsync\tsync\tsync:{batch}\t{verb}\timage\tami-{n:017x}\t"
    "{account}\t{region}\tweb-server-{repr_a}.{repr_b}\t{before_copy}\t" + _AFTER_LITERAL + "\t"
    "Observed change number {n}\t{previous}\t{hash}\n"
)


def time_of(n: int) -> datetime:
    """Event ``n`` happened ``n`` seconds into 2026."""
    return _START + timedelta(seconds=n)


def generated_lines(first: int, count: int, previous: str) -> Iterator[tuple[str, str]]:
    """COPY lines of events ``first`` .. ``first + count - 1`` chained from ``previous``, each
    with its hash."""
    seconds = int(_START.timestamp())
    for n in range(first, first + count):
        at = datetime.fromtimestamp(seconds + n, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        values = {
            "n": n,
            "at": at,
            "batch": n // 1000,
            "verb": VERBS[n % len(VERBS)].value,
            "account": 100000000000 + n % 20,
            "region": _REGIONS[n % 3],
            "repr_a": n % 97,
            "repr_b": n % 13,
            "before": _BEFORE if n % 2 else "null",
            "before_copy": _BEFORE if n % 2 else "\\N",
            "previous": previous,
        }
        previous = hashlib.sha256(_CANONICAL.format(**values).encode()).hexdigest()
        yield _LINE.format(**values, hash=previous), previous


def check_template(first: int, previous: str) -> None:
    """The template's hashes are those the service computes (the chain would not verify)."""
    from lifecycle.services.audit_verification import database_rows

    rows = list(itertools.islice(database_rows(after=first - 1), 3))
    assert rows and rows[0]["previous_hash"] == previous
    for row in rows:
        assert event_hash(row) == row["hash"], f"generated event #{row['sequence']} hashes wrong"


def _secondary_indexes(cursor: Any) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'lifecycle_auditevent' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    return cursor.fetchall()


def load(first: int, count: int, previous: str) -> tuple[float, str]:
    """COPY ``count`` generated events from ``first``; returns the seconds taken and the head."""
    started, chained_to, head = time.perf_counter(), previous, previous
    sql = f"COPY lifecycle_auditevent ({', '.join(COLUMNS)}) FROM STDIN"
    with transaction.atomic(), connection.cursor() as cursor:
        indexes = _secondary_indexes(cursor) if count > 100_000 else []
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        with cursor.cursor.copy(sql) as copy:
            batch: list[str] = []
            for line, line_hash in generated_lines(first, count, chained_to):
                batch.append(line)
                head = line_hash
                if len(batch) == 5000:
                    copy.write("".join(batch))
                    batch.clear()
            copy.write("".join(batch))
        for _, definition in indexes:
            cursor.execute(definition)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lifecycle_auditevent")
    check_template(first, chained_to)
    return time.perf_counter() - started, head


def baseline_read() -> tuple[float, int]:
    """A bare keyset read of every row, unformatted (what any export must at least do)."""
    from lifecycle.exports import EXPORT_FIELDS
    from lifecycle.models import AuditEvent
    from lifecycle.services.audit import rows_in_order

    started, rows = time.perf_counter(), 0
    for _ in rows_in_order(AuditEvent.objects.all(), EXPORT_FIELDS):
        rows += 1
    return time.perf_counter() - started, rows


def _client() -> Any:
    from django.contrib.auth.models import User
    from django.test import Client

    logging.getLogger("axes").setLevel(logging.WARNING)  # no sign-in chatter in the figures

    user, _ = User.objects.get_or_create(username="bench-auditor", is_superuser=True)
    client = Client()
    client.force_login(user)
    client.get("/audit/", HTTP_HOST="localhost")  # warm up: URLconf, views and templates load once
    return client


def export_through_view(
    client: Any, fmt: str, since: datetime | None = None, until: datetime | None = None
) -> dict[str, float]:
    """Stream an export through the view; ``since`` and ``until`` are the page's time filter."""
    bounds = {"since": since, "until": until}
    data = {key: value.strftime("%Y-%m-%d %H:%M:%S") for key, value in bounds.items() if value}
    before_rss = peak = rss_bytes()
    started = time.perf_counter()
    response = client.post(f"/audit/export/{fmt}/", data, HTTP_HOST="localhost")
    assert response.status_code == 200, response.content[:2000]
    first_byte = None
    size = 0
    for n, chunk in enumerate(response.streaming_content):
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(chunk)
        if n % 20 == 0:
            peak = max(peak, rss_bytes())
    total = time.perf_counter() - started
    peak = max(peak, rss_bytes())
    return {
        "first_byte": first_byte or total,
        "total": total,
        "bytes": size,
        "rss_growth": peak - before_rss,
    }


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def use_scratch_audit_files(folder: Path) -> None:
    """Digests and the signing key in a temporary folder, never the real data folder."""
    from lifecycle.services.audit_signing import create_signing_key

    settings.AUDIT_DIGEST_DIR = folder / "digests"
    settings.AUDIT_SIGNING_KEY_FILE = folder / "audit-signing-key.pem"
    settings.AUDIT_KEY_FINGERPRINT = ""
    create_signing_key()


def prepare(events: int, after_digest: int) -> None:
    """The log: ``events`` generated events, a digest ``after_digest`` events before the head.

    A kept database is completed where it stopped (a load interrupted after its COPY, say):
    the missing events, then the digest, then the events after it."""
    from lifecycle.services.audit import chain_head
    from lifecycle.services.audit_digests import load_digests, write_digest

    signed = max(events - after_digest, 1)
    head = chain_head()
    present, previous = head.sequence, head.hash
    if present < signed:
        print(f"loading {events:,} events ...", flush=True)
        took, previous = load(present + 1, signed - present, previous)
        print(f"  load of #{present + 1:,}..#{signed:,} (COPY, hashes computed in Python): "
              f"{took:.1f} s", flush=True)  # fmt: skip
        present = signed
    if not load_digests():
        write_digest()
    if present < events:
        took, _ = load(present + 1, events - present, previous)
        print(f"  load of #{present + 1:,}..#{events:,} after the digest: {took:.1f} s")


def measure(events: int) -> None:
    from django.db.models import Max

    from lifecycle.models import AuditEvent
    from lifecycle.services.audit_verification import verify_configured

    base_time, base_rows = baseline_read()
    print(f"events: {events:,}")
    print(
        f"baseline: bare keyset read of {base_rows:,} rows: {base_time:.1f} s "
        f"({base_rows / base_time:,.0f} rows/s)"
    )
    # The generated events' last time (signing in and exporting record events of today).
    last = AuditEvent.objects.filter(sequence__lte=events).aggregate(Max("occurred_at"))
    last = last["occurred_at__max"]
    client = _client()
    small = export_through_view(client, "jsonl", since=last - timedelta(minutes=5))
    late = export_through_view(client, "jsonl", since=last - (last - _START) / 100)
    month_start = _START + (last - _START) * 2 / 5
    middle = export_through_view(
        client, "jsonl", since=month_start, until=month_start + timedelta(days=30)
    )
    full = {fmt: export_through_view(client, fmt) for fmt in ("jsonl", "csv")}
    for name, figures in [
        ("jsonl, last 5 minutes", small),
        ("jsonl, last 1% by time", late),
        ("jsonl, 30 days from 40% of the log by time", middle),
        ("jsonl, everything", full["jsonl"]),
        ("csv, everything", full["csv"]),
    ]:
        print(
            f"export {name}: first byte {figures['first_byte'] * 1000:.0f} ms, total "
            f"{figures['total']:.1f} s ({figures['total'] / base_time:.2f}x the bare read), "
            f"{figures['bytes'] / 2**20:,.2f} MiB written, peak RSS growth "
            f"{figures['rss_growth'] / 2**20:.1f} MiB"
        )
    first_bytes = [figures["first_byte"] for figures in (small, late, middle, *full.values())]
    growth = max(figures["rss_growth"] for figures in full.values())
    print(
        f"goal: first byte < 1 s, unfiltered and filtered by time (the end, the middle) "
        f"(slowest {max(first_bytes) * 1000:.0f} ms): {verdict(max(first_bytes) < 1)}"
    )
    print(
        f"goal: constant memory, a full export's peak RSS growth within 32 MiB of a 5-minute "
        f"export's ({growth / 2**20:.1f} vs {small['rss_growth'] / 2**20:.1f} MiB): "
        f"{verdict(growth - small['rss_growth'] < 32 * 2**20)}"
    )
    full_time, full_result = timed(verify_configured, full=True)
    resumed_time, resumed_result = timed(verify_configured)
    print(
        f"verification, full (baseline): {full_result.events_checked:,} events re-hashed in "
        f"{full_time:.1f} s ({full_result.events_checked / full_time:,.0f} events/s); "
        f"intact: {full_result.ok}"
    )
    print(
        f"verification, resumed from digest #{resumed_result.resumed_from.last_sequence:,}: "
        f"{resumed_result.events_checked:,} events re-hashed in {resumed_time:.2f} s "
        f"({full_time / resumed_time:,.0f}x faster than full); intact: {resumed_result.ok}"
    )
    print(
        f"goal: resumed verification at least 10x faster than full "
        f"({full_time / resumed_time:,.0f}x): "
        f"{verdict(full_time / resumed_time >= 10 and resumed_result.ok and full_result.ok)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument(
        "--after-digest",
        type=int,
        default=10_000,
        help="events after the latest signed digest (what a resumed verification re-hashes)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    if args.events < 2 or args.after_digest < 0:
        parser.error("--events must be at least 2 and --after-digest at least 0")
    name = use_scratch_database("auditbench")
    from lifecycle.models import AuditEvent

    folder = Path(tempfile.mkdtemp(prefix="auditbench-"))
    try:
        # A kept database keeps its digests with it: a re-run uses the same folder.
        use_scratch_audit_files(Path(f"{folder.parent}/{name}") if args.keep else folder)
        prepare(args.events, args.after_digest)
        measure(AuditEvent.objects.filter(source="sync").count())  # the generated ones
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not args.keep:
            drop_database(name)


if __name__ == "__main__":
    main()
