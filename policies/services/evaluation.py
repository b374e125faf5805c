"""Evaluating a policy: a decision and its reasons for every image in scope (a dry run).

Rules, in order:
1. Guards no policy can override: an image in use is kept (its usage named); so is one whose
   usage amidash cannot vouch for (its Region's last complete listing is too old: unknown is not
   unused), and one already named by an open request.
2. Keep rules: any one that applies keeps the image; every one that applies is named.
3. Stages: deprecate, then disable once deprecated for X days, then deregister once disabled for
   Y days. Time in a state is measured from the image's last lifecycle change in amidash's own
   history (succeeded request items, observed state changes), or from when amidash first saw it.
4. Limits: actions beyond ``max_images_per_run`` or ``max_share_of_family`` are deferred.
"""

from __future__ import annotations

import gc
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from inventory.choices import ImageState
from inventory.lineage import lineage_roots
from inventory.models import ImageUsage
from lifecycle.choices import FINAL_REQUEST_STATES, ItemStatus
from lifecycle.models import AuditEvent, AuditVerb, RequestItem
from policies.choices import ACTION_DECISIONS, PlanDecision
from policies.models import Policy
from policies.services.selection import (
    DAY,
    KEEP_TAGS,
    Candidate,
    as_datetime,
    as_microseconds,
    candidates,
    current_images,
    keep_tag_items,
)

#: Image events that are a lifecycle change (the sync records them when it observes one).
CHANGE_VERBS = (AuditVerb.IMAGE_STATE_CHANGED, AuditVerb.IMAGE_DEPRECATION_CHANGED)
#: States a stage can act on; others (pending, failed...) are left alone.
ACTIONABLE_STATES = frozenset({ImageState.AVAILABLE, ImageState.DISABLED})
DISABLED = ImageState.DISABLED
#: The decisions, read once: an enum member looked up on its class costs a quarter of a
#: microsecond each time, for every image.
KEEP, DEPRECATE, DISABLE, DEREGISTER, DEFERRED = (
    PlanDecision.KEEP,
    PlanDecision.DEPRECATE,
    PlanDecision.DISABLE,
    PlanDecision.DEREGISTER,
    PlanDecision.DEFERRED,
)


@dataclass(slots=True)
class PlanRow:
    """One image's decision and every reason for it."""

    image: Candidate
    decision: str
    reasons: list[str]

    def record(self) -> dict[str, Any]:
        image = self.image
        return {
            "image_id": image.image_id,
            "account_id": image.account_id,
            "region": image.region,
            "name": image.name,
            "family": image.family,
            "decision": self.decision,
            "reasons": self.reasons,
        }


@dataclass
class Plan:
    """The outcome of evaluating a policy at one moment (not stored; see services.plans)."""

    policy: Policy
    evaluated_at: datetime
    rows: list[PlanRow] = field(default_factory=list)

    def actionable(self) -> list[PlanRow]:
        return [row for row in self.rows if row.decision in ACTION_DECISIONS]


@dataclass
class Context:
    """What the rules read besides the image row, each gathered in one query; times are
    microseconds since the epoch (see services.selection)."""

    now: int
    last_change: dict[int, int]
    open_requests: dict[int, int]
    usage: dict[int, list[dict[str, str]]]
    usage_cutoff: int
    #: Usage reports older than this leave other accounts' use of an exposed image unknown.
    consumers_cutoff: int = 0
    #: The newest image in scope of each lineage (pk -> the lineage's root image id), when the
    #: policy keeps them.
    newest_of_lineage: dict[int, str] = field(default_factory=dict)


def _last_changes(images: list[Candidate]) -> dict[int, int]:
    """Per image pk, its last lifecycle change that amidash recorded."""
    found: dict[int, int] = {}
    items = (
        RequestItem.objects.filter(status=ItemStatus.SUCCEEDED, finished_at__isnull=False)
        .values("image_id")
        .annotate(at=Max("finished_at"))
        .values_list("image_id", "at")
    )
    found.update((pk, as_microseconds(at)) for pk, at in items)
    events = list(
        AuditEvent.objects.filter(target_type="image", verb__in=CHANGE_VERBS)
        .values("target_account", "target_region", "target_id")
        .annotate(at=Max("occurred_at"))
        .values_list("target_account", "target_region", "target_id", "at")
    )
    if not events:
        return found
    by_key = {(c.account_id, c.region, c.image_id): c.pk for c in images}
    for account, region, image_id, at in events:
        pk = by_key.get((account, region, image_id))
        at = as_microseconds(at)
        if pk is not None and (pk not in found or found[pk] < at):
            found[pk] = at
    return found


def _open_requests() -> dict[int, int]:
    """Images named by a request that is not final, and that request's number."""
    rows = RequestItem.objects.exclude(request__status__in=FINAL_REQUEST_STATES).values_list(
        "image_id", "request_id"
    )
    return dict(rows)


def _usage(images: list[Candidate]) -> dict[int, list[dict[str, str]]]:
    """What uses each image in use, read as the request preview reads it (usage rows by Region
    and image id, by type then resource), in one query that names no image: the inventory's
    in-use images are a subquery, which keeps 10,000 ids out of the SQL text."""
    refs = {(c.region, c.image_id): c.pk for c in images if c.in_use or c.usage_count}
    if not refs:
        return {}
    in_use = current_images().filter(Q(in_use=True) | Q(usage_count__gt=0)).values("image_id")
    rows = (
        ImageUsage.objects.filter(region__in={region for region, _ in refs}, image_ref__in=in_use)
        .order_by("usage_type", "resource_id")
        .values_list("region", "image_ref", "usage_type", "resource_id")
    )
    found: dict[int, list[dict[str, str]]] = defaultdict(list)
    for region, ref, kind, resource in rows:
        pk = refs.get((region, ref))
        if pk is not None:
            found[pk].append({"type": kind, "id": resource})
    return found


def _newest_of_lineage(images: list[Candidate]) -> dict[int, str]:
    """The newest of each lineage among ``images`` (oldest first), by pk, with its root: the
    images of a lineage share a root (``inventory.lineage.lineage_roots``); an image without
    ancestors is the root of its own."""
    roots = lineage_roots()
    newest: dict[str, int] = {}
    for image in images:  # oldest first: the last one seen of a lineage is its newest
        newest[roots.get(image.pk, image.image_id)] = image.pk
    return {pk: root for root, pk in newest.items()}


def gather_context(images: list[Candidate], now: datetime, policy: Policy | None = None) -> Context:
    cutoff = now - timedelta(hours=settings.POLICY_USAGE_MAX_AGE_HOURS)
    lineage = policy is not None and policy.keep_newest_per_lineage
    return Context(
        now=as_microseconds(now),
        last_change=_last_changes(images),
        open_requests=_open_requests(),
        usage=_usage(images),
        usage_cutoff=as_microseconds(cutoff),
        consumers_cutoff=as_microseconds(
            now - timedelta(hours=settings.CONSUMER_REPORT_MAX_AGE_HOURS)
        ),
        newest_of_lineage=_newest_of_lineage(images) if lineage else {},
    )


def _days(microseconds: int) -> int:
    """Whole days in a span (as ``timedelta.days``), never negative."""
    return max(microseconds // DAY, 0)


# --- guards and keep rules --------------------------------------------------------------------


def _in_use_reason(usage: list[dict[str, str]] | None, external: int = 0) -> str:
    usage = usage or []
    named = ", ".join(f"{u['type'].replace('_', ' ')} {u['id']}" for u in usage[:3])
    more = f" and {len(usage) - 3} more" if len(usage) > 3 else ""
    others = f"{external} resource(s) of other accounts (usage report)" if external else ""
    users = " and ".join(part for part in (f"{named}{more}" if named else "", others) if part)
    return f"in use by {users}" if users else "in use"


def _unknown_consumers_reason(reported: int | None) -> str:
    when = f"{as_datetime(reported):%Y-%m-%d %H:%M} UTC" if reported is not None else "never"
    return f"usage by other accounts unknown: its usage report is from {when}"


def _unknown_usage_reason(listed: int | None) -> str:
    when = f"{as_datetime(listed):%Y-%m-%d %H:%M} UTC" if listed is not None else "never"
    return f"usage unknown: its Region was last listed completely {when}"


#: What the guards and keep rules read of a row, in one call.
_KEPT_FIELDS = itemgetter(0, 2, 3, 5, 7, 9, 10, 12, 13, 14, 17, 18, -2)


def keeper(policy: Policy, context: Context) -> Callable[[Candidate], list[str]]:
    """The reasons that keep an image: first the guards no policy may override (invariant 11:
    usage, unknown usage, an open request), then every keep rule of the policy that applies
    (any one keeps it). Settings and cutoffs are worked out once; each row is read once."""
    now, usage, cutoff, open_requests = (
        context.now,
        context.usage,
        context.usage_cutoff,
        context.open_requests,
    )
    consumers_cutoff = context.consumers_cutoff
    newest = policy.keep_newest_per_family or None
    younger = policy.keep_younger_than_days
    younger_cutoff = now - (younger or 0) * DAY
    within = policy.keep_launched_within_days
    launch_cutoff = now - (within or 0) * DAY
    tag_reasons = tuple(f"tagged {key}={value}" for key, value in keep_tag_items(policy))
    public_keeps, shared_keeps = policy.keep_public, policy.keep_shared
    newest_of_lineage = context.newest_of_lineage

    def reasons_to_keep(image: Candidate) -> list[str]:
        (pk, account, region, family, created, launched, seen, listed, public, shared, in_use,
         usage_count, rank) = _KEPT_FIELDS(image)  # fmt: skip
        reasons = []
        used = usage.get(pk)
        if used or in_use or usage_count:
            reasons.append(_in_use_reason(used, image.external_usage_count))
        elif listed is None or listed < cutoff:
            reasons.append(_unknown_usage_reason(listed))
        elif (public or shared) and (
            image.consumers_reported_us is None or image.consumers_reported_us < consumers_cutoff
        ):
            reasons.append(_unknown_consumers_reason(image.consumers_reported_us))
        if pk in open_requests:
            reasons.append(f"already in open request #{open_requests[pk]}")
        if newest and rank <= newest:
            reasons.append(
                f"one of the newest {newest} of family {family or '(none)'} "
                f"in {account}/{region} (#{rank})"
            )
        if younger is not None:
            if created is None:
                reasons.append("creation date unknown: cannot tell it is old")
            elif created > younger_cutoff:
                reasons.append(f"younger than {younger} days ({_days(now - created)} days old)")
        if within is not None:
            if launched is not None and launched >= launch_cutoff:
                reasons.append(f"launched {_days(now - launched)} days ago (within {within})")
            if seen is not None and seen >= launch_cutoff:
                days = _days(now - seen)
                reasons.append(f"seen in use by amidash {days} days ago (within {within})")
        if tag_reasons:
            flags = image[KEEP_TAGS:-2]
            reasons += [tag for tag, held in zip(tag_reasons, flags, strict=True) if held]
        if public_keeps and public:
            reasons.append("public")
        if shared_keeps and shared:
            reasons.append(f"shared with {shared} other account(s) or organization(s)")
        if pk in newest_of_lineage:
            reasons.append(f"the newest image of lineage {newest_of_lineage[pk]}")
        return reasons

    return reasons_to_keep


# --- stages -----------------------------------------------------------------------------------


def _since(image: Candidate, context: Context, floor: int | None = None) -> int:
    """When the image's current lifecycle state began, as far as amidash can tell."""
    since = context.last_change.get(image.pk) or image.first_seen_us
    return max(since, floor) if floor is not None else since


def _after(stage: str, days: int, since: int, now: int, state: str) -> tuple[str, str]:
    waited = _days(now - since)
    if waited >= days:
        return stage, f"{state} for {waited} days (the stage waits {days})"
    return KEEP, f"{stage} due in {days - waited} days ({state} for {waited})"


def stage_decision(image: Candidate, policy: Policy, context: Context) -> tuple[str, str]:
    """The stage due for an image no rule keeps, or keep with what it waits for."""
    now = context.now
    if image.state not in ACTIONABLE_STATES:
        return KEEP, f"state {image.state}: policies act on available or disabled"
    if image.state == DISABLED:
        if policy.deregister_after_days is None:
            return KEEP, "disabled; the policy has no deregister stage"
        since = _since(image, context)
        return _after(DEREGISTER, policy.deregister_after_days, since, now, "disabled")
    deprecation = image.deprecation_us
    if deprecation is not None and deprecation <= now:
        since = _since(image, context, deprecation)
        if policy.disable_after_days is not None:
            days = policy.disable_after_days
            return _after(DISABLE, days, since, now, "deprecated")
        if policy.deregister_after_days is not None:
            days = policy.deregister_after_days
            return _after(DEREGISTER, days, since, now, "deprecated")
        return KEEP, "deprecated; the policy has no later stage"
    if deprecation is not None:
        return KEEP, f"deprecation already set for {image.deprecation_time:%Y-%m-%d}"
    return _first_stage(policy)


def _first_stage(policy: Policy) -> tuple[str, str]:
    if policy.deprecate:
        return DEPRECATE, "no keep rule applies: deprecate"
    if policy.disable_after_days is not None:
        return DISABLE, "no keep rule applies; no deprecate stage: disable"
    if policy.deregister_after_days is not None:
        return DEREGISTER, "no keep rule applies; no earlier stage: deregister"
    return KEEP, "no keep rule applies, but the policy has no stages"


def decide(image: Candidate, policy: Policy, context: Context) -> PlanRow:
    """Guards, then keep rules, then the stage due (see the module's rules) for one image."""
    return decider(policy, context)(image)


def decider(policy: Policy, context: Context) -> Callable[[Candidate], PlanRow]:
    """``decide`` for every image of one evaluation, the policy's settings read once."""
    reasons_to_keep = keeper(policy, context)

    def decide(image: Candidate) -> PlanRow:
        kept = reasons_to_keep(image)
        if kept:
            return PlanRow(image, KEEP, kept)
        decision, reason = stage_decision(image, policy, context)
        if decision == DEREGISTER and image.is_protected:
            return PlanRow(image, KEEP, [reason, "deregistration protection is on"])
        return PlanRow(image, decision, [reason])

    return decide


# --- limits -----------------------------------------------------------------------------------


def apply_limits(rows: list[PlanRow], policy: Policy) -> None:
    """Defer actions beyond the run's limits, oldest images first in line (rows are oldest
    first). A deferred row keeps the action it would take as its first reason."""
    share = policy.max_share_of_family
    taken: Counter[tuple[str, str, str]] = Counter()
    total = 0
    for row in rows:
        if row.decision not in ACTION_DECISIONS:
            continue
        image = row.image
        family = (image.account_id, image.region, image.family)
        held = ""
        if share is not None and taken[family] >= math.floor(share * image.family_size):
            allowed = math.floor(share * image.family_size)
            held = (
                f"limit: at most {share:.0%} of family {image.family or '(none)'}'s "
                f"{image.family_size} current images per run ({allowed})"
            )
        elif policy.max_images_per_run is not None and total >= policy.max_images_per_run:
            held = f"limit: at most {policy.max_images_per_run} images per run"
        if held:
            row.reasons = [f"would {row.decision}", *row.reasons, held]
            row.decision = DEFERRED
            continue
        taken[family] += 1
        total += 1


@contextmanager
def _collecting_later() -> Iterator[None]:
    """Pause the cyclic garbage collector: an evaluation makes hundreds of thousands of tuples,
    lists and strings and no reference cycles, and each collection would scan all of them."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def evaluate(policy: Policy, now: datetime | None = None) -> Plan:
    """The plan of ``policy`` now: one row per image in scope, oldest first."""
    now = now or timezone.now()
    with _collecting_later():
        images = candidates(policy)
        context = gather_context(images, now, policy)
        rows = list(map(decider(policy, context), images))
        apply_limits(rows, policy)
    return Plan(policy, now, rows)


def totals(plan: Plan) -> dict[str, Any]:
    """Counts per decision and per family, and what the plan's deregistrations would free."""
    decisions = Counter(row.decision for row in plan.rows)
    families: dict[str, Counter[str]] = defaultdict(Counter)
    for row in plan.rows:
        families[row.image.family][row.decision] += 1
    freed = 0
    if plan.policy.delete_snapshots:
        freed = sum(r.image.storage_gib for r in plan.rows if r.decision == DEREGISTER)
    return {
        "images": len(plan.rows),
        "decisions": {d: decisions.get(d, 0) for d in PlanDecision.values},
        "families": {name: dict(counts) for name, counts in sorted(families.items())},
        "freed_gib": freed,
        "freed_monthly_cost": str(_cost(freed)),
        "deregister_gib": sum(r.image.storage_gib for r in plan.rows if r.decision == DEREGISTER),
    }


def _cost(gib: int) -> Any:
    from decimal import Decimal

    price = Decimal(str(settings.STORAGE_PRICE_PER_GB_MONTH))
    return (price * gib).quantize(Decimal("0.01"))
