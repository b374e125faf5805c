"""Each keep rule, each stage, the guards and the limits, read from the plan's decisions."""

from __future__ import annotations

import datetime

from django.utils import timezone

from inventory.models import AccountRegion
from lifecycle.models import AuditSource
from lifecycle.services.audit import record_event
from policies.services.evaluation import evaluate
from tests.factories import create_image_usage, create_listed_image, create_policy


def _decisions(plan) -> dict[str, tuple[str, list[str]]]:
    return {row.image.name: (row.decision, row.reasons) for row in plan.rows}


def _days_ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def test_it_keeps_the_newest_n_of_each_family_and_deprecates_the_rest():
    for n in range(1, 5):
        create_listed_image(f"web-1.{n}.0", age_days=100 - n)
    plan = evaluate(create_policy(keep_newest_per_family=2, deprecate=True))
    decided = _decisions(plan)
    assert decided["web-1.4.0"][0] == decided["web-1.3.0"][0] == "keep"
    assert "one of the newest 2 of family web" in decided["web-1.4.0"][1][0]
    assert decided["web-1.2.0"][0] == decided["web-1.1.0"][0] == "deprecate"


def test_it_keeps_the_newest_image_of_each_lineage_across_regions():
    """A lineage is a copy chain: base-1 and its copies (in any Region, under any name), and
    base-2 with its own copy. The newest of each is kept, the others follow the stages."""
    from django.utils import timezone as tz

    from inventory.models import ImageAncestry

    root = create_listed_image("base-1", age_days=90)
    copy = create_listed_image(
        "base-1-copy", age_days=60, region="eu-west-1", source_image_id=root.image_id
    )
    newest = create_listed_image(
        "base-1-copy-again", age_days=30, region="us-west-2", source_image_id=copy.image_id
    )
    for position, ancestor in enumerate([copy, root], start=1):
        ImageAncestry.objects.create(
            image=newest,
            position=position,
            ancestor_image_id=ancestor.image_id,
            ancestor_region=ancestor.region,
            observed_at=tz.now(),
        )
    other_root = create_listed_image("other-1", age_days=80)
    other_copy = create_listed_image(
        "other-1-copy", age_days=70, source_image_id=other_root.image_id
    )

    decided = _decisions(evaluate(create_policy(keep_newest_per_lineage=True, deprecate=True)))

    assert decided["base-1-copy-again"] == (
        "keep",
        [f"the newest image of lineage {root.image_id}"],
    )
    assert decided["other-1-copy"][0] == "keep"
    assert other_copy.image_id not in decided["other-1-copy"][1][0]
    assert decided["base-1"][0] == decided["base-1-copy"][0] == decided["other-1"][0] == "deprecate"


def test_without_the_lineage_rule_copies_are_not_kept():
    root = create_listed_image("base-1", age_days=90)
    create_listed_image("base-1-copy", age_days=60, source_image_id=root.image_id)

    decided = _decisions(evaluate(create_policy(deprecate=True)))

    assert {decision for decision, _ in decided.values()} == {"deprecate"}


def test_it_ranks_families_per_account_and_region():
    create_listed_image("web-1.1.0", age_days=50)
    create_listed_image("web-1.2.0", age_days=40, region="eu-west-1")
    plan = evaluate(create_policy(keep_newest_per_family=1, deprecate=True))
    assert {d for d, _ in _decisions(plan).values()} == {"keep"}


def test_it_keeps_young_images():
    create_listed_image("app-1.0", age_days=10)
    create_listed_image("app-2.0", age_days=120)
    decided = _decisions(evaluate(create_policy(keep_younger_than_days=90, deprecate=True)))
    assert decided["app-1.0"] == ("keep", ["younger than 90 days (10 days old)"])
    assert decided["app-2.0"][0] == "deprecate"


def test_it_keeps_images_launched_or_seen_in_use_recently():
    create_listed_image("a-1", last_launched_time=_days_ago(3))
    create_listed_image("b-1", last_seen_in_use_at=_days_ago(5))
    create_listed_image("c-1", last_launched_time=_days_ago(300))
    decided = _decisions(evaluate(create_policy(keep_launched_within_days=30, deprecate=True)))
    assert decided["a-1"] == ("keep", ["launched 3 days ago (within 30)"])
    assert decided["b-1"] == ("keep", ["seen in use by amidash 5 days ago (within 30)"])
    assert decided["c-1"][0] == "deprecate"


def test_it_keeps_tagged_public_and_shared_images_naming_every_rule():
    create_listed_image("a-1", tags={"keep": "true"}, public=True, shared_with=["210987654321"])
    create_listed_image("b-1", tags={"keep": "false"})
    rules = {"keep_tags": {"keep": "true"}, "keep_public": True, "keep_shared": True}
    decided = _decisions(evaluate(create_policy(deprecate=True, **rules)))
    assert decided["a-1"] == (
        "keep",
        ["tagged keep=true", "public", "shared with 1 other account(s) or organization(s)"],
    )
    assert decided["b-1"][0] == "deprecate"


def test_an_image_in_use_is_always_kept_with_its_usage_named():
    busy = create_listed_image("busy-1", in_use=True, usage_count=1)
    create_image_usage(busy, resource_id="i-0123456789abcdef0")
    decided = _decisions(evaluate(create_policy(deprecate=True, deregister_after_days=0)))
    assert decided["busy-1"] == ("keep", ["in use by instance i-0123456789abcdef0"])


def test_usage_that_is_not_current_counts_as_unknown_not_unused():
    image = create_listed_image("old-listing-1")
    AccountRegion.objects.filter(pk=image.account_region_id).update(last_listed_at=_days_ago(5))
    decision, reasons = _decisions(evaluate(create_policy(deprecate=True)))["old-listing-1"]
    assert decision == "keep" and reasons[0].startswith("usage unknown")


def test_the_scope_narrows_by_account_region_family_name_and_tags():
    create_listed_image("web-1.0", tags={"env": "prod"})
    create_listed_image("web-2.0", tags={"env": "dev"})
    create_listed_image("db-1.0", tags={"env": "prod"})
    create_listed_image("web-3.0", tags={"env": "prod"}, region="eu-west-1")
    scope = {
        "scope_accounts": ["111122223333"],
        "scope_regions": ["us-east-1"],
        "scope_families": ["we*"],
        "scope_names": ["web-*"],
        "scope_tags": {"env": "prod"},
    }
    plan = evaluate(create_policy(deprecate=True, **scope))
    assert [row.image.name for row in plan.rows] == ["web-1.0"]


def test_a_deprecated_image_is_disabled_once_deprecated_long_enough():
    create_listed_image("a-1", deprecation_time=_days_ago(40))
    create_listed_image("b-1", deprecation_time=_days_ago(10))
    decided = _decisions(evaluate(create_policy(deprecate=True, disable_after_days=30)))
    assert decided["a-1"] == ("disable", ["deprecated for 40 days (the stage waits 30)"])
    assert decided["b-1"] == ("keep", ["disable due in 20 days (deprecated for 10)"])


def test_a_disabled_image_is_deregistered_once_disabled_long_enough_by_amidash_history():
    image = create_listed_image("a-1", state="disabled")
    create_listed_image("b-1", state="disabled")
    # amidash saw a-1 change state 12 days after it first saw it: the stage counts from then.
    record_event(
        "image.state_changed",
        actor=None,
        source=AuditSource.SYNC,
        target=image,
        before={"state": "available"},
        after={"state": "disabled"},
    )
    decided = _decisions(evaluate(create_policy(disable_after_days=1, deregister_after_days=30)))
    assert decided["a-1"] == ("keep", ["deregister due in 30 days (disabled for 0)"])
    assert decided["b-1"] == ("deregister", ["disabled for 400 days (the stage waits 30)"])


def test_without_a_deprecate_stage_an_unkept_image_is_disabled_directly():
    create_listed_image("a-1")
    assert _decisions(evaluate(create_policy(disable_after_days=5)))["a-1"][0] == "disable"


def test_a_protected_image_is_not_deregistered():
    create_listed_image("a-1", state="disabled", deregistration_protection="enabled")
    decision, reasons = _decisions(evaluate(create_policy(deregister_after_days=0)))["a-1"]
    assert decision == "keep" and reasons[-1] == "deregistration protection is on"


def test_limits_defer_actions_beyond_the_run_and_the_family_share():
    for n in range(1, 7):
        create_listed_image(f"web-1.{n}.0", age_days=300 - n)
    for n in range(1, 3):
        create_listed_image(f"db-1.{n}.0", age_days=300 - n)
    plan = evaluate(create_policy(deprecate=True, max_share_of_family=0.5, max_images_per_run=4))
    decided = _decisions(plan)
    acted = sorted(name for name, (d, _) in decided.items() if d == "deprecate")
    assert acted == ["db-1.1.0", "web-1.1.0", "web-1.2.0", "web-1.3.0"]
    assert decided["web-1.4.0"][0] == "deferred"
    assert decided["web-1.4.0"][1][-1].startswith("limit: at most 50% of family web")
    assert decided["db-1.2.0"][1] == [
        "would deprecate",
        "no keep rule applies: deprecate",
        "limit: at most 50% of family db's 2 current images per run (1)",
    ]


def test_the_run_limit_defers_the_newest_actions():
    for n in range(1, 4):
        create_listed_image(f"web-1.{n}.0", age_days=300 - n)
    decided = _decisions(evaluate(create_policy(deprecate=True, max_images_per_run=2)))
    assert decided["web-1.3.0"][0] == "deferred"
    assert decided["web-1.3.0"][1][-1] == "limit: at most 2 images per run"
    assert decided["web-1.1.0"][0] == decided["web-1.2.0"][0] == "deprecate"


def test_an_image_narrowed_by_name_or_tag_is_still_ranked_in_its_whole_family():
    create_listed_image("web-1.1.0", age_days=30, tags={"env": "prod"})
    create_listed_image("web-1.2.0", age_days=20, tags={"env": "dev"})
    create_listed_image("web-1.3.0", age_days=10, tags={"env": "dev"})
    scope = {"scope_tags": {"env": "prod"}, "scope_names": ["web-1.[12].*", "nothing-*"]}
    plan = evaluate(create_policy(keep_newest_per_family=2, deprecate=True, **scope))
    assert _decisions(plan) == {"web-1.1.0": ("deprecate", ["no keep rule applies: deprecate"])}


def test_times_count_whole_days_and_rows_come_oldest_first_with_undated_images_last():
    create_listed_image("dated-2", age_days=5)
    create_listed_image("undated", age_days=None)
    oldest = create_listed_image("dated-1", age_days=10)
    plan = evaluate(create_policy(keep_younger_than_days=30, deprecate=True))
    assert [row.image.name for row in plan.rows] == ["dated-1", "dated-2", "undated"]
    decided = _decisions(plan)
    assert decided["dated-1"] == ("keep", ["younger than 30 days (10 days old)"])
    assert decided["undated"] == ("keep", ["creation date unknown: cannot tell it is old"])
    assert plan.rows[0].image.creation_date == oldest.creation_date  # to the microsecond


def test_images_without_a_creation_date_rank_after_dated_ones_the_latest_seen_first():
    create_listed_image("web-1.0", age_days=300)
    create_listed_image("web-2.0", age_days=None)
    create_listed_image("web-3.0", age_days=None)
    decided = _decisions(evaluate(create_policy(keep_newest_per_family=2, deprecate=True)))
    assert decided["web-1.0"][1] == [
        "one of the newest 2 of family web in 111122223333/us-east-1 (#1)"
    ]
    assert decided["web-3.0"][1][0].endswith("(#2)")
    assert decided["web-2.0"][0] == "deprecate"


def test_an_image_used_by_other_accounts_is_kept():
    create_listed_image("golden-1", public=True, in_use=True, usage_count=0, external_usage_count=3)
    decided = _decisions(evaluate(create_policy(deprecate=True, deregister_after_days=0)))
    assert decided["golden-1"] == (
        "keep",
        ["in use by 3 resource(s) of other accounts (usage report)"],
    )


def test_a_shared_image_whose_usage_report_is_old_counts_as_unknown_not_unused(settings):
    settings.CONSUMER_REPORT_MAX_AGE_HOURS = 24
    create_listed_image("stale-1", shared_with=["210987654321"], consumers_reported_at=None)
    create_listed_image(
        "old-1",
        shared_with=["210987654321"],
        consumers_reported_at=timezone.now() - datetime.timedelta(hours=25),
    )
    create_listed_image("private-1", consumers_reported_at=None)
    decided = _decisions(evaluate(create_policy(deprecate=True)))
    assert decided["stale-1"] == (
        "keep",
        ["usage by other accounts unknown: its usage report is from never"],
    )
    assert decided["old-1"][0] == "keep"
    assert decided["old-1"][1][0].startswith("usage by other accounts unknown")
    assert decided["private-1"][0] == "deprecate"
