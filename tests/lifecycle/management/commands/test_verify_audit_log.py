"""The verify_audit_log command: the chain and the signed digests, checked from the shell."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lifecycle.services.audit_signing import public_key_pem, signing_key
from tests.factories import create_audit_events
from tests.lifecycle.tampering import raw, triggers_disabled

pytestmark = pytest.mark.django_db


def test_verify_audit_log_exits_0_when_intact(capsys):
    create_audit_events(10)
    call_command("write_audit_digest")
    call_command("verify_audit_log")
    out = capsys.readouterr().out
    assert "Audit log intact" in out and "1 signed digests verified" in out


def test_verify_audit_log_exits_1_naming_the_first_bad_event(capsys):
    _, last = create_audit_events(10)
    with triggers_disabled():
        raw("UPDATE lifecycle_auditevent SET message = 'forged' WHERE sequence = %s", [last - 4])
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit_log")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert f"first bad event #{last - 4}: edited" in err


def test_verify_audit_log_checks_digests_with_a_given_public_key(tmp_path, capsys):
    create_audit_events(3)
    call_command("write_audit_digest")
    key_file = tmp_path / "public.pem"
    key_file.write_text(public_key_pem(signing_key().public_key()))
    call_command("verify_audit_log", "--public-key", str(key_file))
    assert "intact" in capsys.readouterr().out


def test_verify_audit_log_explains_a_missing_public_key_or_folder(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("verify_audit_log", "--public-key", str(tmp_path / "nope.pem"))
    with pytest.raises(CommandError, match="not a folder"):
        call_command("verify_audit_log", "--digest-dir", str(tmp_path / "nope"))
