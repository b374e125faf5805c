"""Benchmark: export and verification of a large audit log.

    DEBUG=true DATABASE_URL=postgres://... python bench/audit_export.py [--events 1000000]

Works in a scratch database (``<name>_auditbench``) that it creates, migrates and drops at the
end (``--keep`` keeps it for a re-run, which then skips the load). Loads the events with COPY
(hashes computed by the same canonical encoding as the service), then measures through the real
view: time to first byte, total time and peak RSS growth of a JSON lines and a CSV export; and
``verify_audit_chain`` in events per second. Figures are printed with ratios against baselines
measured in the same run: a bare keyset read of the same rows (export), and hashing
already-fetched rows in memory (verification).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amidash.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.db import connection  # noqa: E402

from bench.scratch import drop_database, use_scratch_database  # noqa: E402
from lifecycle.models.audit import HASHED_FIELDS, AuditVerb  # noqa: E402

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


def generated_rows(count: int) -> Iterator[tuple]:
    from lifecycle.models import GENESIS_HASH
    from lifecycle.models.audit import canonical_json, event_hash

    start = datetime(2026, 1, 1, tzinfo=UTC)
    previous = GENESIS_HASH
    for n in range(1, count + 1):
        fields = {
            "sequence": n,
            "occurred_at": start + timedelta(seconds=n),
            "actor_id": None,
            "actor_type": "system",
            "actor_name": "sync",
            "source": "sync",
            "correlation_id": f"sync:{n // 1000}",
            "verb": VERBS[n % len(VERBS)],
            "target_type": "image",
            "target_id": f"ami-{n:017x}",
            "target_account": f"{100000000000 + n % 20}",
            "target_region": ("eu-west-1", "us-east-1", "ap-south-1")[n % 3],
            "target_repr": f"web-server-{n % 97}.{n % 13}",
            "before": {"state": "available", "public": False} if n % 2 else None,
            "after": {"state": "disabled", "public": False, "deprecation_time": None},
            "message": f"Observed change number {n}",
            "previous_hash": previous,
        }
        fields["hash"] = previous = event_hash(fields)
        row = [fields[name] for name in COLUMNS]
        row[COLUMNS.index("before")] = (
            canonical_json(fields["before"]) if fields["before"] else None
        )
        row[COLUMNS.index("after")] = canonical_json(fields["after"])
        yield tuple(row)


def load(count: int) -> float:
    started = time.perf_counter()
    sql = f"COPY lifecycle_auditevent ({', '.join(COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in generated_rows(count):
            copy.write_row(row)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE lifecycle_auditevent")
    return time.perf_counter() - started


def baseline_read() -> tuple[float, int]:
    """A bare keyset read of every row, unformatted (what any export must at least do)."""
    from lifecycle.exports import EXPORT_FIELDS
    from lifecycle.models import AuditEvent
    from lifecycle.services.audit import rows_in_order

    started, rows = time.perf_counter(), 0
    for _ in rows_in_order(AuditEvent.objects.all(), EXPORT_FIELDS):
        rows += 1
    return time.perf_counter() - started, rows


def export_through_view(fmt: str) -> dict[str, float]:
    from django.contrib.auth.models import User
    from django.test import Client

    user, _ = User.objects.get_or_create(username="bench-auditor", is_superuser=True)
    client = Client()
    client.force_login(user)
    client.get("/audit/", HTTP_HOST="localhost")  # warm up: URLconf, views and templates load once
    before_rss = peak = rss_bytes()
    started = time.perf_counter()
    response = client.post(f"/audit/export/{fmt}/", HTTP_HOST="localhost")
    first_byte = None
    size = 0
    for n, chunk in enumerate(response.streaming_content):
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(chunk)
        if n % 50 == 0:
            peak = max(peak, rss_bytes())
    total = time.perf_counter() - started
    peak = max(peak, rss_bytes())
    return {
        "first_byte": first_byte or total,
        "total": total,
        "bytes": size,
        "rss_growth": peak - before_rss,
    }


def hashing_baseline(sample: int) -> float:
    """Events per second for hashing rows already in memory (no database)."""
    from lifecycle.models.audit import event_hash
    from lifecycle.services.audit_verification import database_rows

    rows = []
    for row in database_rows():
        rows.append(row)
        if len(rows) >= sample:
            break
    started = time.perf_counter()
    for row in rows:
        event_hash(row)
    return len(rows) / (time.perf_counter() - started)


def verification() -> tuple[float, int, bool]:
    from lifecycle.services.audit_verification import verify_audit_chain

    started = time.perf_counter()
    result = verify_audit_chain()
    elapsed = time.perf_counter() - started
    return elapsed, result.events_checked, result.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    name = use_scratch_database("auditbench")
    from lifecycle.models import AuditEvent

    present = AuditEvent.objects.count()
    try:
        if present == 0:
            print(f"loading {args.events:,} events into {name} ...", flush=True)
            print(f"  load (COPY, hashes computed): {load(args.events):.1f} s")
        events = AuditEvent.objects.count()
        base_time, base_rows = baseline_read()
        print(f"events: {events:,}")
        print(
            f"baseline: bare keyset read of {base_rows:,} rows: {base_time:.1f} s "
            f"({base_rows / base_time:,.0f} rows/s)"
        )
        for fmt in ("jsonl", "csv"):
            figures = export_through_view(fmt)
            print(
                f"export {fmt}: first byte {figures['first_byte'] * 1000:.0f} ms, total "
                f"{figures['total']:.1f} s ({figures['total'] / base_time:.2f}x the bare read), "
                f"{figures['bytes'] / 2**20:,.0f} MiB written, peak RSS growth "
                f"{figures['rss_growth'] / 2**20:.1f} MiB"
            )
        hash_rate = hashing_baseline(100_000)
        elapsed, checked, ok = verification()
        rate = checked / elapsed
        print(
            f"verification: {checked:,} events in {elapsed:.1f} s = {rate:,.0f} events/s "
            f"({rate / hash_rate:.2f}x the in-memory hashing rate of {hash_rate:,.0f}/s); "
            f"intact: {ok}"
        )
    finally:
        if not args.keep:
            drop_database(name)


if __name__ == "__main__":
    main()
