"""Advisory locks shared by inventory and lifecycle: one key per named lock, never waited for."""

from __future__ import annotations

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

from amidash.locks import sync_lock, sync_lock_key, sync_slot_key, sync_slot_lock

pytestmark = pytest.mark.django_db(transaction=True)


def _held_elsewhere(key: int) -> bool:
    """Whether another database session can take ``key`` right now (it lets it go at once)."""
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            taken = cursor.fetchone()[0]
            if taken:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return not taken
    finally:
        other.close()


def test_it_holds_a_sync_lock_for_the_block_and_releases_it_after():
    key = sync_lock_key("123456789012", "eu-west-1")
    with sync_lock("123456789012", "eu-west-1") as acquired:
        assert acquired and _held_elsewhere(key)
    assert not _held_elsewhere(key)


def test_it_does_not_wait_for_a_lock_another_session_holds():
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [sync_slot_key("123456789012", 1)])
        with sync_slot_lock("123456789012", 1) as acquired:
            assert not acquired
        with sync_slot_lock("123456789012", 0) as acquired:
            assert acquired  # another slot of the account is free
    finally:
        other.close()


def test_it_keeps_the_keys_of_earlier_releases():
    # A worker of the previous release and one of this release must exclude each other.
    assert sync_lock_key("123456789012", "eu-west-1") == -6324324064011795673
    assert sync_lock_key("123456789012", "eu-west-1") != sync_slot_key("123456789012", 0)
