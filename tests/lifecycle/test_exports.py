"""Exports: streamed CSV / JSON lines with a signed manifest, PDF report, offline verification."""

from __future__ import annotations

import csv
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.urls import reverse

from lifecycle.exports import verify_export_file
from lifecycle.models import AuditEvent
from lifecycle.services.audit import Target, record_event
from lifecycle.services.audit_signing import default_public_key, signing_key
from tests.factories import create_audit_events, signed_in

pytestmark = pytest.mark.django_db


def export(client, fmt: str, **filters):
    response = client.post(reverse("lifecycle:audit_export", args=[fmt]), filters)
    assert response.status_code == 200, response.content[:300]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


# The log is never flushed between tests: exports name this test's own account.
ACCOUNT = "999000111222"


@pytest.fixture
def history(auditor):
    first, last = create_audit_events(30, account=ACCOUNT)
    record_event("request.approved", actor=auditor, source="web", target=Target("request", "5"))
    return first, last


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_it_streams_an_export_that_verifies_offline(auditor, history, tmp_path, fmt):
    response, body = export(signed_in(auditor), fmt, verb="image.appeared", account=ACCOUNT)
    assert isinstance(response, StreamingHttpResponse)
    assert "attachment" in response["Content-Disposition"]
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(body)
    check = verify_export_file(path, default_public_key())
    assert check.ok, check.problems
    assert check.count == 30
    assert check.manifest["filter"] == {"verb": "image.appeared", "account": ACCOUNT}
    assert (check.manifest["first_sequence"], check.manifest["last_sequence"]) == history


def test_it_records_each_export_as_an_audit_event(auditor, history):
    response, body = export(signed_in(auditor), "jsonl", actor="audrey", verb="request.approved")
    event = AuditEvent.objects.get(sequence=int(response["X-Audit-Export-Event"]))
    assert (event.verb, event.actor_name) == ("export.created", "audrey")
    assert event.after == {
        "format": "jsonl",
        "filter": {"actor": "audrey", "verb": "request.approved"},
    }
    manifest = json.loads(body.splitlines()[-1])["manifest"]
    assert manifest["export_event"] == {"sequence": event.sequence, "hash": event.hash}
    assert manifest["chain_head"] == {"sequence": event.sequence - 1, "hash": event.previous_hash}
    assert manifest["count"] == 1  # the approval; the export's own event comes after the cut


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_it_catches_an_edited_or_removed_line(auditor, history, tmp_path, fmt):
    _, body = export(signed_in(auditor), fmt, verb="image.appeared", account=ACCOUNT)
    lines = body.splitlines(keepends=True)
    edited = tmp_path / f"edited.{fmt}"
    edited.write_bytes(b"".join([*lines[:3], lines[3].replace(b"event", b"evemt"), *lines[4:]]))
    check = verify_export_file(edited, default_public_key())
    assert not check.ok
    assert any("edited" in problem for problem in check.problems)
    removed = tmp_path / f"removed.{fmt}"
    removed.write_bytes(b"".join([*lines[:5], *lines[6:]]))
    check = verify_export_file(removed, default_public_key())
    assert not check.ok
    assert any("count" in problem for problem in check.problems)


def test_it_refuses_a_manifest_checked_with_another_key(auditor, history, tmp_path):
    _, body = export(signed_in(auditor), "jsonl")
    path = tmp_path / "export.jsonl"
    path.write_bytes(body)
    check = verify_export_file(path, Ed25519PrivateKey.generate().public_key())
    assert not check.ok
    assert "another key" in check.problems[0]


def test_it_builds_a_pdf_report_with_summaries(auditor, history):
    record_event(
        "item.failed",
        actor=None,
        source="worker",
        target=Target("image", "ami-0abc", "123456789012", "eu-west-1"),
        after={"action": "disable"},
        message="DisableImage failed: UnauthorizedOperation",
    )
    record_event(
        "image.state_changed",
        actor=None,
        source="sync",
        target=Target("image", "ami-0def", "123456789012", "eu-west-1"),
        before={"state": "available"},
        after={"state": "disabled"},
    )
    response, body = export(signed_in(auditor), "pdf")
    assert response["Content-Type"] == "application/pdf"
    assert body.startswith(b"%PDF")
    assert AuditEvent.objects.filter(verb="export.created", after__format="pdf").exists()


def test_the_report_names_targets_as_the_log_does():
    from lifecycle.reports import _event_rows

    def record(kind, repr_, account="", region=""):
        return {
            "sequence": 1,
            "occurred_at": "2026-01-01T00:00:01.000000Z",
            "actor_name": "arno",
            "verb": "request.approved",
            "target_type": kind,
            "target_id": "5",
            "target_repr": repr_,
            "target_account": account,
            "target_region": region,
            "message": "",
        }

    targets = [
        row[4]
        for row in _event_rows(
            [record("request", "Request #5: Deregister"), record("image", "web", "1", "r")]
        )
    ]
    assert targets == ["Request #5: Deregister", "image web 1/r"]


@pytest.mark.parametrize("persona", ["viewer", "requester", "approver"])
def test_it_refuses_exports_without_the_export_permission(persona, request):
    user = request.getfixturevalue(persona)
    before = AuditEvent.objects.filter(verb="export.created").count()
    response = signed_in(user).post(reverse("lifecycle:audit_export", args=["csv"]))
    assert response.status_code == 403
    assert AuditEvent.objects.filter(verb="export.created").count() == before


def test_it_lets_admins_export(admin_user, history):
    _, body = export(signed_in(admin_user), "csv")
    assert body.splitlines()[-1].startswith(b"#manifest,")


def test_it_answers_bad_export_input_with_a_400(auditor):
    client = signed_in(auditor)
    before = AuditEvent.objects.filter(verb="export.created").count()
    assert client.post(reverse("lifecycle:audit_export", args=["xml"])).status_code == 400
    bad = client.post(reverse("lifecycle:audit_export", args=["csv"]), {"account": "nope"})
    assert bad.status_code == 400
    assert client.get(reverse("lifecycle:audit_export", args=["csv"])).status_code == 405
    assert AuditEvent.objects.filter(verb="export.created").count() == before


def test_verify_export_command_exits_0_for_a_good_file_and_1_for_a_bad_one(
    auditor, history, tmp_path, capsys
):
    _, body = export(signed_in(auditor), "jsonl")
    good = tmp_path / "good.jsonl"
    good.write_bytes(body)
    call_command("verify_export", str(good))
    assert "Export intact" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(body.replace(b"image.appeared", b"image.gone", 1))
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_export", str(bad))
    assert exit_info.value.code == 1
    assert "NOT intact" in capsys.readouterr().err


def test_verify_export_command_explains_a_file_that_is_no_export(tmp_path):
    from django.core.management.base import CommandError

    signing_key()
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    with pytest.raises(CommandError, match="not a valid audit export"):
        call_command("verify_export", str(junk))
    with pytest.raises(CommandError, match="not a file"):
        call_command("verify_export", str(tmp_path / "missing.jsonl"))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_it_round_trips_text_with_newlines_quotes_and_non_ascii(auditor, tmp_path, fmt):
    record_event(
        "request.created",
        actor=auditor,
        source="web",
        message='Reason: "old" base image,\nowner Jürgen ✓',
        after={"tags": {"Name": "straße", "quote": '"'}},
    )
    _, body = export(signed_in(auditor), fmt, verb="request.created")
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(body)
    check = verify_export_file(path, default_public_key())
    assert check.ok, check.problems
    assert "Jürgen ✓" in body.decode()
    _, pdf = export(signed_in(auditor), "pdf", verb="request.created")
    assert pdf.startswith(b"%PDF")


def test_a_formula_looking_username_exports_as_text_and_verifies(tmp_path):
    from amidash.roles import Role
    from tests.factories import create_user

    user = create_user("=HYPERLINK(1)", Role.AUDITOR)
    record_event("request.created", actor=user, source="web", message="-2+3 @sum")
    _, body = export(signed_in(user), "csv", verb="request.created", actor=user.username)
    rows = list(csv.reader(io.StringIO(body.decode())))
    cells = [cell for row in rows[1:-1] for cell in row]
    assert "'=HYPERLINK(1)" in cells and "'-2+3 @sum" in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    path = tmp_path / "export.csv"
    path.write_bytes(body)
    check = verify_export_file(path, default_public_key())
    assert check.ok and check.count >= 1, check.problems
