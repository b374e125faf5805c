"""Stored plans: every row as evaluated, and the difference from the previous plan."""

from __future__ import annotations

from lifecycle.models import AuditSource
from policies.models import PolicyPlan
from policies.services.evaluation import evaluate
from policies.services.plans import evaluate_and_save, save_plan
from tests.factories import create_listed_image, create_policy


def test_every_row_is_stored_as_evaluated_whatever_its_text_holds():
    odd = 'web\t1.0 \\ back\nslash \r ü 東京 "quoted"'
    create_listed_image(odd, age_days=300, tags={"keep": "ja"})
    create_listed_image("web-2.0", age_days=200)
    policy = create_policy(keep_tags={"keep": "ja"}, deprecate=True)
    plan = evaluate(policy)
    stored = save_plan(plan, None, AuditSource.CLI)
    entries = {e.image_id: e for e in stored.entries.all()}
    assert len(entries) == len(plan.rows) == 2
    for row in plan.rows:
        entry = entries[row.image.pk]
        assert (entry.image_ref, entry.account_id, entry.region) == (
            row.image.image_id,
            row.image.account_id,
            row.image.region,
        )
        assert (entry.name, entry.family) == (row.image.name, row.image.family)
        assert (entry.decision, entry.reasons, entry.storage_gib) == (
            row.decision,
            row.reasons,
            row.image.storage_gib,
        )
    assert entries[plan.rows[0].image.pk].name == odd


def test_a_plan_counts_images_new_to_scope_gone_from_it_and_changed_decisions(settings):
    settings.POLICY_PLANS_KEPT = 2
    policy = create_policy(keep_newest_per_family=1, deprecate=True)
    leaving = create_listed_image("web-1.0", age_days=300)
    create_listed_image("web-2.0", age_days=200)
    _plan, first = evaluate_and_save(policy, None, AuditSource.CLI)
    assert first.changes == {}
    leaving.gone_at = leaving.last_seen_at
    leaving.save()
    create_listed_image("web-3.0", age_days=100)
    create_listed_image("db-1.0", age_days=100)
    _plan, second = evaluate_and_save(policy, None, AuditSource.CLI)
    assert second.changes == {
        "previous": first.pk,
        "new": 2,
        "left": 1,
        "changed": {"keep → deprecate": 1},
        "changed_total": 1,
    }
    _plan, third = evaluate_and_save(policy, None, AuditSource.CLI)
    assert third.changes["changed_total"] == 0 and third.changes["new"] == 0
    assert not first.entries.exists() and third.entries.count() == 3
    assert PolicyPlan.objects.count() == 3
