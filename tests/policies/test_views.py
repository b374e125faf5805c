"""Policy pages as anonymous, without a role to write, and as a Requester."""

from __future__ import annotations

import csv
import io
import json

from django.test import Client

from lifecycle.models import AuditEvent
from policies.models import Policy, PolicyPlan
from tests.factories import create_listed_image, create_policy, signed_in

FORM = {
    "name": "tidy-web",
    "description": "keep two",
    "scope_families": "web*",
    "keep_newest_per_family": "1",
    "keep_tags": "keep=true",
    "deprecate": "on",
    "notice_days": "0",
}


def test_it_sends_anonymous_users_to_sign_in():
    response = Client().get("/policies/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_viewer_reads_policies_but_may_not_write_them(viewer):
    create_policy("tidy")
    client = signed_in(viewer)
    assert "tidy" in client.get("/policies/").content.decode()
    assert client.get("/policies/new/").status_code == 403
    assert client.post("/policies/new/", FORM).status_code == 403
    assert Policy.objects.count() == 1


def test_a_requester_writes_a_policy_and_it_is_audited(requester):
    client = signed_in(requester)
    response = client.post("/policies/new/", FORM)
    saved = Policy.objects.get()
    assert response.status_code == 302 and saved.updated_by == requester
    assert saved.scope_families == ["web*"] and saved.keep_tags == {"keep": "true"}
    # The audit log outlives a test's rollback: read this policy's events from its creation on.
    events = AuditEvent.objects.filter(
        target_type="policy", target_id=str(saved.pk), occurred_at__gte=saved.created_at
    )
    event = events.get(verb="policy.created")
    assert event.actor_name == "rita" and event.after["keep"]["newest_per_family"] == 1
    client.post(f"/policies/{saved.pk}/toggle/", {"enabled": "true"})
    enabled = events.get(verb="policy.enabled")
    assert enabled.before == {"enabled": False} and enabled.after["enabled"] is True


def test_bad_input_is_named_on_the_form_with_a_400(requester):
    bad = FORM | {"name": "Bad Name", "scope_accounts": "12", "max_share_of_family": "7"}
    response = signed_in(requester).post("/policies/new/", bad)
    page = response.content.decode()
    assert response.status_code == 400
    assert "Not a valid 12-digit account id: 12" in page and "lower-case letters" in page
    assert not Policy.objects.exists()


def test_the_plan_page_shows_totals_reasons_changes_and_exports(requester):
    for n in range(1, 4):
        create_listed_image(f"web-1.{n}.0", age_days=100 - n)
    saved = create_policy(
        "tidy-web", keep_newest_per_family=1, deprecate=True, updated_by=requester
    )
    client = signed_in(requester)
    client.post(f"/policies/{saved.pk}/evaluate/")
    create_listed_image("web-1.9.0", age_days=1)
    response = client.post(f"/policies/{saved.pk}/evaluate/")
    plan = PolicyPlan.objects.order_by("-pk").first()
    assert response["Location"] == f"/policies/{saved.pk}/plans/{plan.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert 'id="total-deprecate">3<' in page and 'id="total-keep">1<' in page
    assert "1 new in scope" in page and "1 keep → deprecate" in page
    assert "one of the newest 1 of family web" in page
    assert f'action="/policies/{saved.pk}/evaluate/"' in page  # a fresher plan, on demand
    kept = client.get(response["Location"], {"decision": "keep"}).content.decode()
    assert "web-1.9.0" in kept and "web-1.1.0" not in kept
    export = client.get(f"{response['Location']}export/csv/", {"decision": "deprecate"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert sorted(r["name"] for r in rows) == ["web-1.1.0", "web-1.2.0", "web-1.3.0"]
    as_json = json.loads(
        b"".join(client.get(f"{response['Location']}export/json/").streaming_content)
    )
    assert {r["decision"] for r in as_json} == {"keep", "deprecate"}


def test_a_bad_page_link_or_export_format_is_a_clear_4xx(requester):
    saved = create_policy("tidy", updated_by=requester)
    client = signed_in(requester)
    client.post(f"/policies/{saved.pk}/evaluate/")
    plan = PolicyPlan.objects.get()
    base = f"/policies/{saved.pk}/plans/{plan.pk}/"
    assert "not valid any more" in client.get(base, {"cursor": "zz"}).content.decode()
    assert client.get(f"{base}export/pdf/").status_code == 400
    assert client.get(f"/policies/{saved.pk}/plans/999999/").status_code == 404
