"""Signed digests of the audit chain, written periodically to ``AUDIT_DIGEST_DIR``.

Like CloudTrail's digest files: each digest names the chain head (sequence and hash), how many
events the log holds, the period it covers since the previous digest, and the SHA-256 of the
previous digest file, and is signed with the Ed25519 audit key. Rewriting history inside the
database (even with the triggers disabled and every hash recomputed) no longer matches them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from lifecycle.models import AuditEvent
from lifecycle.models.audit import isoformat_utc
from lifecycle.services.audit import chain_head
from lifecycle.services.audit_signing import sign_document

DIGEST_TYPE = "amidash-audit-digest"
#: Key of the advisory lock that makes digest writers take turns ("dige" in ASCII).
DIGEST_LOCK_KEY = 0x64696765


@dataclass(frozen=True)
class Digest:
    """A digest file as read back: its path, the SHA-256 of its bytes, and its document."""

    path: Path
    sha256: str
    document: dict[str, Any]

    @property
    def last_sequence(self) -> int:
        return int(self.document.get("last_sequence", 0))

    @property
    def chain_head(self) -> str:
        return str(self.document.get("chain_head", ""))


class DigestError(Exception):
    """A digest file that cannot be read as a digest."""


def digest_dir() -> Path:
    return Path(settings.AUDIT_DIGEST_DIR)


def read_digest(path: Path) -> Digest:
    data = path.read_bytes()
    try:
        document = json.loads(data)
    except ValueError:
        raise DigestError(f"{path.name} is not JSON") from None
    if not isinstance(document, dict) or document.get("type") != DIGEST_TYPE:
        raise DigestError(f"{path.name} is not an amidash audit digest")
    return Digest(path, hashlib.sha256(data).hexdigest(), document)


def load_digests(directory: Path | None = None) -> list[Digest]:
    """Every digest in the folder, oldest chain head first (DigestError for a bad file)."""
    directory = directory or digest_dir()
    if not directory.is_dir():
        return []
    digests = [read_digest(path) for path in sorted(directory.glob("digest-*.json"))]
    return sorted(digests, key=lambda digest: (digest.last_sequence, digest.path.name))


def write_digest(*, directory: Path | None = None, force: bool = False) -> Path | None:
    """Sign the current chain head into a new digest file; None when nothing new happened.

    Writers take turns (a PostgreSQL advisory lock held to the end of the transaction): two
    writers reading the same previous digest would both name it, and the digests would fork.
    """
    directory = directory or digest_dir()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DIGEST_LOCK_KEY])
        return _write_digest(directory, force)


def _write_digest(directory: Path, force: bool) -> Path | None:
    head = chain_head()
    previous = (load_digests(directory) or [None])[-1]
    first = previous.last_sequence + 1 if previous else 1
    if head.sequence == 0 or (previous and previous.last_sequence >= head.sequence and not force):
        return None
    times = dict(
        AuditEvent.objects.filter(
            sequence__in=[min(first, head.sequence), head.sequence]
        ).values_list("sequence", "occurred_at")
    )
    now = timezone.now()
    document = sign_document(
        {
            "type": DIGEST_TYPE,
            "version": 1,
            "created_at": isoformat_utc(now),
            "first_sequence": min(first, head.sequence),
            "last_sequence": head.sequence,
            "chain_head": head.hash,
            "events_total": head.sequence,
            "events_in_period": max(head.sequence - first + 1, 0),
            "period_start": isoformat_utc(times[min(first, head.sequence)]),
            "period_end": isoformat_utc(times[head.sequence]),
            "previous_digest_sha256": previous.sha256 if previous else None,
        }
    )
    return _write_atomically(directory, head.sequence, now.strftime("%Y%m%dT%H%M%S%fZ"), document)


def _write_atomically(directory: Path, sequence: int, stamp: str, document: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"digest-{sequence:012d}-{stamp}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)
    return path


def latest_digest(directory: Path | None = None) -> Digest | None:
    """The digest with the highest chain head (file names sort by it), or None."""
    directory = directory or digest_dir()
    paths = sorted(directory.glob("digest-*.json")) if directory.is_dir() else []
    for path in reversed(paths):
        try:
            return read_digest(path)
        except DigestError:
            continue
    return None
