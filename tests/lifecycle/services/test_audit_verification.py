"""Verification names the first bad event and the kind of tampering; digests bind the head.

The tampering is what a database superuser can do: with the append-only triggers bypassed
(``session_replication_role = replica``), edit, delete, reorder and insert rows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from functools import partial

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle.models import AuditEvent
from lifecycle.models.audit import event_hash
from lifecycle.services.audit_digests import load_digests, write_digest
from lifecycle.services.audit_signing import default_public_key, sign_document
from lifecycle.services.audit_verification import verify_audit_chain
from tests.factories import create_audit_events
from tests.lifecycle.tampering import FORGE_MESSAGE, raw, rewrite_from, tampered

EVENTS = 10_000
_UPDATE = "UPDATE lifecycle_auditevent SET {} WHERE sequence = %s"
_DELETE = "DELETE FROM lifecycle_auditevent WHERE sequence = %s"
EDITABLE = {
    "message": FORGE_MESSAGE,
    "verb": _UPDATE.format("verb = 'image.gone'"),
    "actor_name": _UPDATE.format("actor_name = 'mallory'"),
    "after": _UPDATE.format("""after = '{"state": "forged"}'"""),
    "occurred_at": _UPDATE.format("occurred_at = occurred_at + interval '1 second'"),
    "target_id": _UPDATE.format("target_id = 'ami-0forged'"),
    "hash": _UPDATE.format("hash = repeat('f', 64)"),
    "previous_hash": _UPDATE.format("previous_hash = repeat('e', 64)"),
}


def verify():
    return verify_audit_chain(digests=load_digests(), public_key=default_public_key())


def rehash(sequence: int) -> None:
    """What a careful forger does after an edit: give the row a hash that matches it."""
    event = AuditEvent.objects.get(sequence=sequence)
    raw(
        "UPDATE lifecycle_auditevent SET hash = %s WHERE sequence = %s",
        [event.computed_hash(), sequence],
    )


def edit_and_rehash(sequence: int) -> None:
    raw(EDITABLE["message"], [sequence])
    rehash(sequence)


def shift_up(position: int) -> None:
    raw("UPDATE lifecycle_auditevent SET sequence = -sequence - 1 WHERE sequence >= %s", [position])
    raw("UPDATE lifecycle_auditevent SET sequence = -sequence WHERE sequence < 0")


def swap(first: int, second: int) -> None:
    raw("UPDATE lifecycle_auditevent SET sequence = -1 WHERE sequence = %s", [first])
    raw("UPDATE lifecycle_auditevent SET sequence = %s WHERE sequence = %s", [first, second])
    raw("UPDATE lifecycle_auditevent SET sequence = %s WHERE sequence = -1", [second])


def insert_forged(position: int, *, chained: bool) -> None:
    """Renumber the events from ``position`` on and put a forged one in the gap."""
    previous = AuditEvent.objects.get(sequence=position - 1) if position > 1 else None
    template = AuditEvent.objects.get(sequence=position)
    shift_up(position)
    forged = replace_fields(template, sequence=position, message="forged approval")
    if chained:
        forged.previous_hash = previous.hash if previous else "0" * 64
        forged.hash = forged.computed_hash()
    else:
        forged.previous_hash, forged.hash = "d" * 64, "c" * 64
    forged.save(force_insert=True)


def replace_fields(event: AuditEvent, **changes) -> AuditEvent:
    clone = AuditEvent(**{f.attname: getattr(event, f.attname) for f in AuditEvent._meta.fields})
    for name, value in changes.items():
        setattr(clone, name, value)
    return clone


def signed_chain(count: int) -> tuple[int, int]:
    """``count`` events (after whatever earlier tests committed), with a digest of the head."""
    first, last = create_audit_events(count)
    assert write_digest() is not None
    assert verify().ok
    return first, last


@pytest.fixture
def chain(db):
    return signed_chain(EVENTS)


@pytest.fixture
def short_chain(db):
    """Enough events for every kind of tampering at either end, quick to verify many times."""
    return signed_chain(60)


def tamper_and_verify(action):
    """Apply ``action`` with the triggers off, verify, and undo everything."""
    return tampered(action, verify)


KINDS = ["edit", "rehash", "delete", "swap", "insert", "rewrite"]


def tampering_of(kind: str, position: int, first: int, last: int, **how) -> tuple[tuple, Callable]:
    """What verification must say about this tampering, and how to do it. ``how`` gives the
    edited ``field``, the ``other`` event of a swap and whether an insertion is ``chained``."""
    if kind == "edit":
        return ("edited", position), partial(raw, EDITABLE[how["field"]], [position])
    if kind == "rehash":
        expected = ("edited", position) if position < last else ("digest_mismatch", last)
        return expected, partial(edit_and_rehash, position)
    if kind == "delete":
        return ("missing", position), partial(raw, _DELETE, [position])
    if kind == "swap":
        low, high = sorted((position, how["other"]))
        return ("reordered", low), partial(swap, low, high)
    if kind == "insert":
        position = max(position, first + 1)
        return ("inserted", position), partial(insert_forged, position, chained=how["chained"])
    position = max(position, last - 40)
    return ("digest_mismatch", last), partial(rewrite_from, position, last)


@st.composite
def tampering(draw, first: int, last: int):
    kind = draw(st.sampled_from(KINDS))
    position = draw(st.integers(first, last))
    how = {
        "field": draw(st.sampled_from(sorted(EDITABLE))),
        "other": draw(st.integers(first, last).filter(lambda n: n != position)),
        "chained": draw(st.booleans()),
    }
    return tampering_of(kind, position, first, last, **how)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(data=st.data())
def test_it_catches_every_edit_deletion_reordering_and_insertion(chain, data):
    first, last = chain
    (kind, position), action = data.draw(tampering(first, last))
    result = tamper_and_verify(action)
    assert not result.ok
    assert (result.problem, result.sequence) == (kind, position), result.summary()


def test_it_names_tampering_at_either_end_of_the_chain(short_chain):
    """Each kind at the first and the last event, where random positions seldom land."""
    first, last = short_chain
    variants = {
        "edit": [{"field": field} for field in ("message", "hash", "previous_hash")],
        "swap": [{"other": first + 1}, {"other": last - 1}],
        "insert": [{"chained": True}, {"chained": False}],
    }
    wrong = []
    for position, kind in itertools.product((first, last), KINDS):
        for how in variants.get(kind, [{}]):
            expected, action = tampering_of(kind, position, first, last, **how)
            result = tamper_and_verify(action)
            if (result.problem, result.sequence) != expected:
                wrong.append(f"{kind} {how} at #{position}: {result.summary()}")
    assert wrong == []


def test_it_says_intact_with_the_head_and_count(chain):
    _, last = chain
    result = verify()
    assert result.ok
    assert result.head_sequence == last
    assert result.head_hash == AuditEvent.objects.get(sequence=last).hash
    assert "intact" in result.summary()


def test_it_notices_the_newest_events_cut_off_after_a_digest(chain):
    _, last = chain

    def cut() -> None:
        raw("DELETE FROM lifecycle_auditevent WHERE sequence > %s", [last - 3])

    result = tamper_and_verify(cut)
    assert (result.problem, result.sequence) == ("missing", last - 2)


def test_it_notices_an_event_numbered_below_the_start(chain):
    def forge() -> None:
        forged = replace_fields(AuditEvent.objects.get(sequence=chain[0]), sequence=-7)
        forged.hash = "b" * 64
        forged.save(force_insert=True)

    result = tamper_and_verify(forge)
    assert (result.problem, result.sequence) == ("inserted", -7)


def test_it_refuses_a_digest_signed_with_another_key(db):
    create_audit_events(5)
    path = write_digest()
    forged = sign_document(
        {
            k: v
            for k, v in load_digests()[0].document.items()
            if k not in {"signature", "public_key_fingerprint"}
        },
        Ed25519PrivateKey.generate(),
    )
    path.write_text(json.dumps(forged))
    result = verify()
    assert result.problem == "digest_mismatch"
    assert "another key" in result.detail


def test_it_refuses_a_digest_whose_content_was_edited(db):
    create_audit_events(5)
    path = write_digest()
    document = json.loads(path.read_text())
    document["events_total"] += 1
    path.write_text(json.dumps(document))
    result = verify()
    assert result.problem == "digest_mismatch"
    assert "signature does not match" in result.detail


def test_it_notices_a_removed_digest_file(db):
    create_audit_events(3)
    first_digest = write_digest()
    create_audit_events(3)
    write_digest()
    create_audit_events(3)
    write_digest()
    middle = sorted(load_digests(), key=lambda d: d.last_sequence)[1].path
    middle.unlink()
    assert first_digest.exists()
    result = verify()
    assert result.problem == "digest_mismatch"
    assert "does not follow" in result.detail


def test_it_writes_no_digest_when_nothing_happened(db):
    create_audit_events(2)
    assert write_digest() is not None
    assert write_digest() is None
    assert write_digest(force=True) is not None


def test_it_signs_digests_with_a_key_file_only_the_owner_can_read(db, settings):
    create_audit_events(1)
    write_digest()
    assert settings.AUDIT_SIGNING_KEY_FILE.stat().st_mode & 0o777 == 0o600


def test_event_hash_covers_every_field():
    base = {
        "sequence": 1,
        "occurred_at": "2026-01-01T00:00:00.000000Z",
        "actor_id": None,
        "actor_type": "system",
        "actor_name": "sync",
        "source": "sync",
        "correlation_id": "",
        "verb": "image.appeared",
        "target_type": "image",
        "target_id": "ami-1",
        "target_account": "",
        "target_region": "",
        "target_repr": "",
        "before": None,
        "after": {"a": 1},
        "message": "",
        "previous_hash": "0" * 64,
    }
    hashes = {event_hash(base)}
    for name in base:
        hashes.add(event_hash({**base, name: "changed"}))
    assert len(hashes) == len(base) + 1
