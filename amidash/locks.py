"""PostgreSQL advisory locks that more than one app takes, each made by a named constructor.

Inventory and lifecycle must agree on a lock's key to exclude each other (a worker adding a
copied image waits for no sync, but never writes while a sync of that account+Region does), so
the key of each lock is made here once; callers name the lock, never its parts. The locks are
session-level and taken without waiting: the block learns whether it got the lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from django.db import connection

_SYNC = "inventory-sync"
_SYNC_SLOT = "inventory-slot"


def lock_key(*parts: str) -> int:
    """The 64-bit advisory lock key of a lock named by ``parts``."""
    digest = hashlib.blake2b(":".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def try_lock(key: int) -> Iterator[bool]:
    """Hold the session lock ``key`` for the block if it is free; yields whether it was taken."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def sync_lock_key(account_id: str, region: str) -> int:
    """Key of the lock held while one account+Region is synced (see ``sync_lock``)."""
    return lock_key(_SYNC, account_id, region)


def sync_lock(account_id: str, region: str) -> AbstractContextManager[bool]:
    """Held by whoever writes images of one account+Region outside a sync's own transaction:
    the sync of it (two never overlap), or a worker adding the copies it made there."""
    return try_lock(sync_lock_key(account_id, region))


def sync_slot_key(account_id: str, slot: int) -> int:
    """Key of one of an account's concurrency slots (see ``sync_slot_lock``)."""
    return lock_key(_SYNC_SLOT, account_id, str(slot))


def sync_slot_lock(account_id: str, slot: int) -> AbstractContextManager[bool]:
    """One of the SYNC_REGIONS_PER_ACCOUNT slots that bound how many Regions of an account
    sync at a time."""
    return try_lock(sync_slot_key(account_id, slot))
