"""Digest writers take turns: concurrent writers never fork the chain of digests."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from lifecycle.services.audit_digests import load_digests, write_digest
from tests.factories import create_audit_events

WRITERS = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_chain_their_digests_one_after_another(settings, tmp_path):
    settings.AUDIT_DIGEST_DIR = tmp_path / "digests"
    create_audit_events(3)
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            start.wait()
            write_digest(force=True)
        except BaseException as error:  # reported below, with the thread's own connection closed
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    digests = sorted(load_digests(), key=lambda digest: digest.path.name)
    assert len(digests) == WRITERS
    previous = [digest.document["previous_digest_sha256"] for digest in digests]
    assert previous == [None, *(digest.sha256 for digest in digests[:-1])]
