"""Verification resumed from the latest signed digest, and the full walk it leaves to ``--full``.

The resumed check re-hashes only the events after the latest digest, once every digest's
signature and the chain of digests hold and the event each digest names still carries the
signed hash. Tampering between digest heads is left to the full walk, and these tests show it.
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from lifecycle.services.audit_digests import load_digests, write_digest
from lifecycle.services.audit_signing import default_public_key, sign_document
from lifecycle.services.audit_verification import (
    VerificationResult,
    verify_audit_log,
    verify_configured,
)
from tests.factories import create_audit_events
from tests.lifecycle.tampering import FORGE_MESSAGE, raw, rewrite_from, tampered

pytestmark = pytest.mark.django_db


def verify(*, full: bool = False) -> VerificationResult:
    return verify_audit_log(full=full, digests=load_digests(), public_key=default_public_key())


@pytest.fixture
def signed(db) -> tuple[int, int, int]:
    """Events, a digest of the head, and events after it: (first, digest head, last)."""
    first, _ = create_audit_events(30)
    digest = write_digest()
    assert digest is not None
    _, last = create_audit_events(20)
    head = load_digests()[-1].last_sequence
    return first, head, last


def test_it_resumes_from_the_latest_digest_on_an_intact_log(signed):
    _, head, last = signed
    result = verify()
    assert result.ok, result.summary()
    assert result.resumed and result.resumed_from.last_sequence == head
    assert result.events_checked == last - head + 1  # the digest's own event, then the newer ones
    assert result.head_sequence == last
    summary = result.summary()
    assert f"resumed from signed digest {result.resumed_from.path.name}" in summary
    assert f"(head #{head}, signed {result.resumed_from.document['created_at']})" in summary


def test_full_verification_rehashes_every_event_and_says_so(signed):
    _, _, last = signed
    result = verify(full=True)
    assert result.ok and not result.resumed
    assert result.events_checked == last
    assert "Verification: full (every event re-hashed from #1)." in result.summary()


def test_without_a_digest_it_runs_in_full_and_says_why(db):
    _, last = create_audit_events(5)
    result = verify_audit_log(digests=[], public_key=None)
    assert result.ok and not result.resumed and result.events_checked == last
    assert "full (every event re-hashed from #1); no signed digest to resume from" in (
        result.summary()
    )


def test_it_catches_tampering_after_the_digest(signed):
    _, head, last = signed
    for position in (head + 1, last - 3, last):
        result = tampered(lambda p=position: raw(FORGE_MESSAGE, [p]), verify)
        assert (result.problem, result.sequence) == ("edited", position), result.summary()
        assert result.resumed


def test_it_catches_the_digests_own_event_edited_or_rewritten(signed):
    first, head, _ = signed
    edited = tampered(lambda: raw(FORGE_MESSAGE, [head]), verify)
    assert (edited.problem, edited.sequence) == ("edited", head)
    # History rewritten before the digest and every later hash recomputed up to its head: the
    # head no longer carries the signed hash.
    rewritten = tampered(lambda: rewrite_from(first + 3, head), verify)
    assert (rewritten.problem, rewritten.sequence) == ("digest_mismatch", head)
    assert "history up to" in rewritten.detail


def test_it_catches_the_log_cut_before_the_digests_head(signed):
    _, head, _ = signed
    result = tampered(
        lambda: raw("DELETE FROM lifecycle_auditevent WHERE sequence >= %s", [head - 2]), verify
    )
    assert (result.problem, result.sequence) == ("missing", head - 2), result.summary()


def test_it_never_resumes_from_a_changed_digest(signed):
    path = load_digests()[-1].path
    document = json.loads(path.read_text())
    document["chain_head"] = "f" * 64  # a forger naming another head
    path.write_text(json.dumps(document))
    result = verify()
    assert (result.problem, result.sequence) == ("digest_mismatch", None)
    assert "signature does not match its content" in result.detail
    assert "NOT intact" in result.summary()


def test_it_never_resumes_from_a_digest_signed_with_another_key(signed):
    path = load_digests()[-1].path
    unsigned = {
        k: v
        for k, v in json.loads(path.read_text()).items()
        if k not in {"signature", "public_key_fingerprint"}
    }
    path.write_text(json.dumps(sign_document(unsigned, Ed25519PrivateKey.generate())))
    result = verify()
    assert result.problem == "digest_mismatch" and "another key" in result.detail


def test_only_the_full_walk_catches_an_edit_between_digest_heads(signed):
    first, head, _ = signed
    position = first + 5
    assert position < head

    def both() -> VerificationResult:
        return verify(), verify(full=True)

    resumed, full = tampered(lambda: raw(FORGE_MESSAGE, [position]), both)
    assert resumed.ok and resumed.resumed  # what the resumed check does not prove
    assert (full.problem, full.sequence) == ("edited", position)


def test_an_unreadable_digest_file_is_reported_not_skipped(signed, settings):
    (settings.AUDIT_DIGEST_DIR / "digest-999999999999-x.json").write_text("not json")
    result = verify_configured()
    assert result.problem == "digest_mismatch" and "is not JSON" in result.detail
    assert "Verification: none (the digest files could not be read)" in result.summary()


def test_the_command_resumes_by_default_and_rehashes_everything_with_full(signed, capsys):
    first, _, _ = signed
    call_command("verify_audit_log")
    assert "resumed from signed digest" in capsys.readouterr().out
    call_command("verify_audit_log", "--full")
    assert "Verification: full (every event re-hashed from #1)." in capsys.readouterr().out

    def run(*arguments: str) -> int:
        try:
            call_command("verify_audit_log", *arguments)
        except SystemExit as exit_info:
            return exit_info.code
        return 0

    codes = tampered(lambda: raw(FORGE_MESSAGE, [first + 5]), lambda: (run(), run("--full")))
    assert codes == (0, 1)
    assert f"first bad event #{first + 5}: edited" in capsys.readouterr().err


def test_the_command_reports_a_forged_digest_with_exit_1(signed, capsys):
    path = load_digests()[-1].path
    document = json.loads(path.read_text())
    document["events_total"] += 1
    path.write_text(json.dumps(document))
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit_log")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "digest mismatch" in err and "signature does not match" in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--full", "yes"], "unrecognized arguments: yes"),
        (["--digest-dir", "/nonexistent/digests"], "is not a folder"),
        (["--public-key", "/nonexistent/key.pem"], "cannot read"),
    ],
)
def test_bad_arguments_exit_non_zero_with_a_message(signed, arguments, message):
    with pytest.raises(CommandError, match=message) as raised:
        call_command("verify_audit_log", *arguments)
    assert raised.value.returncode != 0
