"""The Audit page's verification: resumed from the latest digest or in full, and which ran."""

from __future__ import annotations

import pytest
from django.urls import reverse

from lifecycle.services.audit_digests import load_digests, write_digest
from tests.factories import create_audit_events, signed_in
from tests.lifecycle.tampering import FORGE_MESSAGE, raw, tampered

VERIFY = reverse("lifecycle:audit_verify")
pytestmark = pytest.mark.django_db


def test_the_page_offers_both_verifications(auditor):
    page = signed_in(auditor).get(reverse("lifecycle:audit_log")).content.decode()
    assert 'name="method" value="resumed"' in page and 'name="method" value="full"' in page


def test_it_resumes_from_the_latest_digest_and_says_so(auditor):
    create_audit_events(5)
    write_digest()
    create_audit_events(3)
    digest = load_digests()[-1]
    response = signed_in(auditor).get(VERIFY, {"method": "resumed"}, HTTP_HX_REQUEST="true")
    text = response.content.decode()
    assert response.status_code == 200
    assert "Audit log intact" in text
    assert f"resumed from signed digest #{digest.last_sequence} ({digest.path.name}" in text
    assert "<html" not in text  # the partial for htmx


def test_full_verification_catches_what_the_resumed_one_cannot(auditor):
    first, _ = create_audit_events(5)
    write_digest()
    client = signed_in(auditor)

    def pages() -> dict[str, str]:
        return {m: client.get(VERIFY, {"method": m}).content.decode() for m in ("resumed", "full")}

    pages = tampered(lambda: raw(FORGE_MESSAGE, [first + 1]), pages)
    assert "Audit log intact" in pages["resumed"]
    assert "Audit log NOT intact" in pages["full"]
    assert "Verification: Full (every event re-hashed from #1)." in pages["full"]
    assert f"event #{first + 1} does not match its hash" in pages["full"]


def test_a_bad_method_is_a_400_with_a_message(auditor):
    response = signed_in(auditor).get(VERIFY, {"method": "quick"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_it_is_refused_to_roles_without_the_audit_permission(viewer):
    assert signed_in(viewer).get(VERIFY).status_code == 403
