"""The audit log for SIEMs: poll from the last sequence read; export with a signed manifest."""

from __future__ import annotations

import json

from tests.factories import create_audit_events, last_audit_sequence


def test_a_siem_polls_from_its_last_sequence(auditor, api):
    start = last_audit_sequence()
    create_audit_events(5)
    client = api(auditor)
    page = client.get("/api/v1/audit/events/", {"after": start, "size": 25}).json()
    sequences = [e["sequence"] for e in page["results"]]
    assert sequences[:5] == list(range(start + 1, start + 6))
    assert sequences == sorted(sequences)
    later = client.get("/api/v1/audit/events/", {"after": page["last_sequence"]}).json()
    assert all(e["sequence"] > page["last_sequence"] for e in later["results"])


def test_it_refuses_bad_audit_filters(auditor, api):
    client = api(auditor)
    assert "after" in client.get("/api/v1/audit/events/", {"after": "x"}).json()["errors"]
    assert "verb" in client.get("/api/v1/audit/events/", {"verb": "no.such"}).json()["errors"]


def test_the_export_ends_in_the_signed_manifest(auditor, api):
    create_audit_events(3)
    response = api(auditor).post("/api/v1/audit/export", {"format": "jsonl"})
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    manifest = json.loads(lines[-1])
    assert "signature" in json.dumps(manifest)
    assert response["X-Audit-Export-Event"].isdigit()


def test_a_viewer_may_not_export(viewer, api):
    assert api(viewer).post("/api/v1/audit/export", {"format": "jsonl"}).status_code == 403
