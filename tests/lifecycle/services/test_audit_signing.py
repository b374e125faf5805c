"""The audit signing key is made only by ``manage.py create_audit_key``; without it, or with a key
other than the pinned one, nothing signs, and the message names what to do."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from lifecycle.services.audit_digests import write_digest
from lifecycle.services.audit_signing import (
    SigningKeyError,
    fingerprint,
    load_public_key,
    signing_key,
)
from tests.factories import create_audit_events, signed_in


@pytest.fixture
def no_key(settings, tmp_path):
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "no-key-yet" / "audit-signing-key.pem"
    settings.AUDIT_DIGEST_DIR = tmp_path / "no-key-digests"
    return settings.AUDIT_SIGNING_KEY_FILE


def test_it_refuses_to_sign_without_a_key_and_names_the_command(db, no_key):
    create_audit_events(1)

    with pytest.raises(SigningKeyError, match=r"`python manage.py create_audit_key`"):
        write_digest()

    assert not no_key.exists()
    assert not (no_key.parent.parent / "no-key-digests").exists()


def test_the_audit_page_never_creates_the_key(auditor, no_key):
    response = signed_in(auditor).get(reverse("lifecycle:audit_log"))

    assert response.status_code == 200
    assert "create_audit_key" in response.content.decode()
    assert not no_key.exists()


def test_create_audit_key_makes_the_key_once_and_prints_its_fingerprint(no_key, capsys):
    call_command("create_audit_key")
    first = no_key.read_bytes()
    call_command("create_audit_key")

    out = capsys.readouterr().out
    assert "Created audit signing key" in out and "Kept the existing" in out
    assert no_key.read_bytes() == first
    assert no_key.stat().st_mode & 0o777 == 0o600
    assert f"Fingerprint: {fingerprint(signing_key().public_key())}" in out


def test_it_refuses_a_key_other_than_the_pinned_one(db, no_key, settings):
    call_command("create_audit_key")
    settings.AUDIT_KEY_FINGERPRINT = "0" * 64
    create_audit_events(1)

    with pytest.raises(SigningKeyError, match="AMIDASH_AUDIT_KEY_FINGERPRINT expects 0000"):
        write_digest()

    settings.AUDIT_KEY_FINGERPRINT = fingerprint(load_public_key(no_key))
    assert write_digest() is not None


def test_processes_making_the_key_at_once_all_read_one_whole_key(no_key):
    """The key is linked into place whole: a process that finds it never reads half a key."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    with context.Pool(8) as pool:
        made = pool.map(_make_key_and_fingerprint, range(8))
    assert sum(created for created, _print in made) == 1
    assert len({fingerprint for _created, fingerprint in made}) == 1
    assert [path.name for path in no_key.parent.iterdir()] == [no_key.name]


def _make_key_and_fingerprint(_n: int) -> tuple[bool, str]:
    from lifecycle.services.audit_signing import create_signing_key, fingerprint

    key, created = create_signing_key()
    return created, fingerprint(key.public_key())
