"""record_event: every field, the gapless chain, and the concurrent writers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle.models import GENESIS_HASH, AuditEvent
from lifecycle.services.audit import Target, record_event
from lifecycle.services.audit_verification import verify_audit_chain
from tests.factories import create_audit_events, last_audit_sequence


@pytest.mark.django_db
def test_it_records_every_field_and_chains_to_the_previous_event(requester):
    head = last_audit_sequence()
    event = record_event(
        "request.created",
        actor=requester,
        source="web",
        target=Target("request", "7", "123456789012", "eu-west-1", "Request #7"),
        before=None,
        after={"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "cost": Decimal("1.50")},
        message="Requested deprecation of 2 images",
        correlation_id="request:7",
    )
    stored = AuditEvent.objects.get(sequence=event.sequence)
    assert stored.sequence == head + 1
    assert (stored.actor_id, stored.actor_type, stored.actor_name) == (requester.pk, "user", "rita")
    assert (stored.source, stored.verb, stored.correlation_id) == (
        "web",
        "request.created",
        "request:7",
    )
    assert (stored.target_type, stored.target_id, stored.target_account, stored.target_region) == (
        "request",
        "7",
        "123456789012",
        "eu-west-1",
    )
    assert stored.after == {"when": "2026-01-02T03:04:05Z", "cost": "1.50"}
    assert stored.computed_hash() == stored.hash
    previous = AuditEvent.objects.filter(sequence=head).values_list("hash", flat=True).first()
    assert stored.previous_hash == (previous or GENESIS_HASH)


@pytest.mark.django_db
def test_it_names_system_and_anonymous_actors():
    system = record_event("sync.finished", actor=None, source="beat")
    anonymous = record_event("auth.login_failed", actor=AnonymousUser(), source="web")
    assert (system.actor_type, system.actor_name, system.actor_id) == ("system", "beat", None)
    assert (anonymous.actor_type, anonymous.actor_name) == ("anonymous", "anonymous")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("verb", "source"), [("approved", "web"), ("Request.Approved", "web"), ("request.x", "email")]
)
def test_it_refuses_a_verb_without_namespace_or_an_unknown_source(verb, source):
    before = last_audit_sequence()
    with pytest.raises(ValueError):
        record_event(verb, actor=None, source=source)
    assert last_audit_sequence() == before


@pytest.mark.django_db
def test_it_rolls_back_with_the_callers_transaction_and_leaves_no_gap():
    before = last_audit_sequence()
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event("request.created", actor=None, source="cli")
        raise RuntimeError("the caller failed")
    assert last_audit_sequence() == before
    event = record_event("request.created", actor=None, source="cli")
    assert event.sequence == before + 1


_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.django_db
@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(before=_JSON, after=st.dictionaries(_TEXT, _JSON, max_size=4))
def test_what_an_event_carries_hashes_the_same_once_read_back(before, after):
    # jsonb prints numbers without an exponent and has no negative zero: 1e+20 comes back as
    # the integer 100000000000000000000. The hash must be of what comes back.
    event = record_event("image.appeared", actor=None, source="sync", before=before, after=after)
    stored = AuditEvent.objects.get(sequence=event.sequence)
    assert (stored.before, stored.after) == (event.before, event.after)
    assert stored.computed_hash() == stored.hash == event.hash


@pytest.mark.django_db
def test_it_bulk_writes_a_valid_chain():
    first, last = create_audit_events(300)
    sequences = list(
        AuditEvent.objects.filter(sequence__gte=first)
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )
    assert sequences == list(range(first, last + 1))
    assert verify_audit_chain().ok


@pytest.mark.django_db
def test_it_keeps_the_chain_gapless_and_valid_under_concurrent_writers():
    """Four connections write at once (they commit: the test's own transaction is not theirs)."""
    start = last_audit_sequence()
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(name: str) -> None:
        try:
            barrier.wait()
            for n in range(25):
                with transaction.atomic():
                    record_event(
                        "image.state_changed",
                        actor=None,
                        source="worker",
                        target=Target("image", f"ami-{name}{n}"),
                        after={"n": n},
                    )
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(str(i),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequences = list(
        AuditEvent.objects.filter(sequence__gt=start)
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )
    assert sequences == list(range(start + 1, start + 101))
    result = verify_audit_chain()
    assert result.ok, result.summary()
