"""The figures of an audit report for a period, computed once and shared by every format.

The PDF, CSV and JSON lines reports all read a ``ReportFigures``: what a figure means is
decided here and nowhere else, so the formats cannot disagree. Figures come from the audit
events in scope (the log is the record an auditor trusts); only "open at period end" reads the
requests table, because an open request has no closing event yet.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from inventory.models import Image
from lifecycle.models import ActorType, AuditEvent, AuditVerb, LifecycleRequest, RequestItem
from lifecycle.services.cloudtrail import NOT_LOOKED_UP, describe_outcome, outcomes_for

#: Observed image changes; one with no execution by amidash before it happened outside.
OBSERVED_CHANGES = frozenset(
    {
        AuditVerb.IMAGE_STATE_CHANGED,
        AuditVerb.IMAGE_DEPRECATION_CHANGED,
        AuditVerb.IMAGE_SHARING_CHANGED,
        AuditVerb.IMAGE_GONE,
    }
)
#: What happened to a request or an item, not the steps of carrying it out.
ACTION_VERBS = frozenset(
    {
        AuditVerb.REQUEST_CREATED,
        AuditVerb.REQUEST_APPROVED,
        AuditVerb.REQUEST_REJECTED,
        AuditVerb.REQUEST_CANCELLED,
        AuditVerb.REQUEST_EXPIRED,
        AuditVerb.ITEM_EXECUTED,
        AuditVerb.ITEM_FAILED,
        AuditVerb.ITEM_STALE,
    }
)
#: Events that change who may act.
ACCESS_VERBS = frozenset(
    {
        AuditVerb.ROLE_CHANGED,
        AuditVerb.PERMISSION_CHANGED,
        AuditVerb.SCOPE_CHANGED,
        AuditVerb.USER_CHANGED,
        AuditVerb.TOKEN_CREATED,
        AuditVerb.TOKEN_REVOKED,
    }
)
#: Images changed by amidash in the period, named by what the executed action did to them.
IMAGE_OUTCOMES = {
    "copy": "created",
    "deprecate": "deprecated",
    "disable": "disabled",
    "deregister": "deregistered",
    "restore": "restored",
}


@dataclass(frozen=True)
class ReportScope:
    """A period [start, end) and optional accounts, Regions, families and one image."""

    start: datetime
    end: datetime
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    image: str = ""

    def filters(self) -> dict[str, str]:
        """The scope as strings, for the manifest and the report's first lines."""
        values = {
            "since": self.start.strftime("%Y-%m-%dT%H:%M"),
            "until": self.end.strftime("%Y-%m-%dT%H:%M"),
            "account": ",".join(self.accounts),
            "region": ",".join(self.regions),
            "family": ",".join(self.families),
            "image": self.image,
        }
        return {name: value for name, value in values.items() if value}

    def describe(self) -> str:
        """The period in words (its end excluded) and the narrowing filters."""
        period = f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC (end excluded)"
        narrowing = {k: v for k, v in self.filters().items() if k not in {"since", "until"}}
        return ", ".join([period, *(f"{k}={v}" for k, v in narrowing.items())])

    def images(self) -> QuerySet[Image]:
        images = Image.objects.all()
        if self.accounts:
            images = images.filter(account__account_id__in=self.accounts)
        if self.regions:
            images = images.filter(region__in=self.regions)
        if self.families:
            images = images.filter(family__in=self.families)
        if self.image:
            images = images.filter(image_id=self.image)
        return images

    def _narrowed(self) -> bool:
        return bool(self.accounts or self.regions or self.families or self.image)

    def _target_filter(self) -> Q:
        """Events about the images in scope, and everything correlated with their requests."""
        if self.families:
            ids = self.images().values_list("image_id", flat=True)
            targets = Q(target_type="image", target_id__in=ids)
        else:
            targets = Q()
            if self.accounts:
                targets &= Q(target_account__in=self.accounts)
            if self.regions:
                targets &= Q(target_region__in=self.regions)
            if self.image:
                targets &= Q(target_type="image", target_id=self.image)
        items = RequestItem.objects.filter(ami_id__in=self._item_ids())
        correlations = [f"request:{pk}" for pk in items.values_list("request_id", flat=True)]
        return targets | Q(correlation_id__in=correlations)

    def _item_ids(self) -> QuerySet:
        return self.images().values_list("image_id", flat=True)

    def events(self, queryset: QuerySet[AuditEvent] | None = None) -> QuerySet[AuditEvent]:
        """The events of the period in scope, oldest first."""
        queryset = AuditEvent.objects.all() if queryset is None else queryset
        queryset = queryset.filter(occurred_at__gte=self.start, occurred_at__lt=self.end)
        if self._narrowed():
            queryset = queryset.filter(self._target_filter())
        return queryset.order_by("sequence")

    def requests(self) -> QuerySet[LifecycleRequest]:
        requests = LifecycleRequest.objects.all()
        if self._narrowed():
            requests = requests.filter(items__ami_id__in=self._item_ids()).distinct()
        return requests


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (share 0.5 is the median): always a value that was measured,
    so "95 % of approvals took at most this long" is literally true."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


@dataclass
class Latency:
    """Durations in seconds between two events of the same requests."""

    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return percentile(self.seconds, 0.5)

    @property
    def p95(self) -> float | None:
        return percentile(self.seconds, 0.95)


@dataclass
class OutsideChange:
    """An image change amidash observed but did not make, and who CloudTrail says made it (the
    same shape for a change amidash made, ``kind`` then its action)."""

    sequence: int
    occurred_at: datetime
    image_id: str
    account: str
    region: str
    kind: str
    cloudtrail: str = NOT_LOOKED_UP


@dataclass(frozen=True)
class EstatePoint:
    """The images in scope at a moment of the period, and how many of them were unused.

    Usage has no history of its own: an image counts as unused at ``at`` when nothing uses it
    now and it was never seen in use at or after ``at``. An image in use now, or seen in use
    later, counts as used (unknown is never shown as unused).
    """

    week: str
    at: datetime
    images: int
    unused: int

    @property
    def unused_share(self) -> float | None:
        """Unused images as a percentage of the images, one decimal."""
        return round(100 * self.unused / self.images, 1) if self.images else None


@dataclass
class ReportFigures:
    """Everything the summary and exceptions sections of a report say."""

    scope: ReportScope
    events: int = 0
    actions: Counter = field(default_factory=Counter)
    images: Counter = field(default_factory=Counter)
    storage_freed_gib: int = 0
    cost_freed: Decimal = Decimal("0.00")
    open_at_end: int = 0
    to_approval: Latency = field(default_factory=Latency)
    to_execution: Latency = field(default_factory=Latency)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    refused: list[AuditEvent] = field(default_factory=list)
    failed: list[AuditEvent] = field(default_factory=list)
    expired: list[AuditEvent] = field(default_factory=list)
    access_changes: list[AuditEvent] = field(default_factory=list)
    lockouts: list[AuditEvent] = field(default_factory=list)
    outside: list[OutsideChange] = field(default_factory=list)
    amidash_changes: list[OutsideChange] = field(default_factory=list)
    weekly_actions: dict[str, Counter] = field(default_factory=dict)
    #: The weeks of the period (each named by its Monday), up to now: the charts' x axis.
    weeks: list[str] = field(default_factory=list)
    #: Each final approval of the period: when, and seconds since its request was made.
    approvals: list[tuple[datetime, float]] = field(default_factory=list)
    estate: list[EstatePoint] = field(default_factory=list)

    @property
    def outside_by_account(self) -> Counter:
        """Out-of-band changes per (account, kind): the summary an auditor reads."""
        return Counter((change.account, change.kind) for change in self.outside)

    def rows(self) -> Iterable[tuple[str, str, Any]]:
        """(section, figure, value) for the CSV and JSON lines formats."""
        yield (
            "scope",
            "period",
            f"{self.scope.start:%Y-%m-%d %H:%M} to {self.scope.end:%Y-%m-%d %H:%M} UTC",
        )
        yield "scope", "events", self.events
        for (action, outcome), count in sorted(self.actions.items()):
            yield "actions", f"{action} {outcome}", count
        for outcome in IMAGE_OUTCOMES.values():
            yield "images", outcome, self.images[outcome]
        yield "storage", "storage freed (GiB)", self.storage_freed_gib
        yield "storage", "monthly cost freed (USD)", str(self.cost_freed)
        yield "requests", "open at period end", self.open_at_end
        for name, latency in (
            ("request to approval", self.to_approval),
            ("approval to execution", self.to_execution),
        ):
            yield "latency", f"{name} median (s)", latency.median
            yield "latency", f"{name} p95 (s)", latency.p95
        yield "exceptions", "in-use overrides", len(self.overrides)
        yield "exceptions", "refused decisions", len(self.refused)
        yield "exceptions", "failed or stale items", len(self.failed)
        yield "exceptions", "expired requests", len(self.expired)
        yield "exceptions", "changes to who may act", len(self.access_changes)
        yield "exceptions", "sign-in lockouts", len(self.lockouts)
        for (account, kind), count in sorted(self.outside_by_account.items()):
            yield "outside changes", f"{account} {kind}", count
        for change in self.outside:
            where = f"{change.image_id} {change.account}/{change.region}"
            yield "outside change", f"#{change.sequence} {where} {change.kind}", change.cloudtrail
        for change in self.amidash_changes:
            where = f"{change.image_id} {change.account}/{change.region}"
            yield "amidash change", f"#{change.sequence} {where} {change.kind}", change.cloudtrail


def week_of(moment: datetime) -> str:
    """The Monday of the week of ``moment``, as YYYY-MM-DD (ISO dates: years below 1000 too)."""
    return (moment.date() - timedelta(days=moment.weekday())).isoformat()


def _request_pk(correlation: str) -> int | None:
    tail = correlation.removeprefix("request:")
    return int(tail) if correlation.startswith("request:") and tail.isdigit() else None


def _times(verb: str, correlations: set[str], **after: Any) -> dict[str, datetime]:
    """When each request's event of ``verb`` happened (the whole log: it may predate the
    period)."""
    events = AuditEvent.objects.filter(verb=verb, correlation_id__in=correlations)
    if after:
        events = events.filter(**{f"after__{key}": value for key, value in after.items()})
    return dict(events.values_list("correlation_id", "occurred_at"))


class _Pass:
    """One pass over the period's events, oldest first, filling a ReportFigures."""

    def __init__(self, figures: ReportFigures) -> None:
        self.figures = figures
        self.actions: dict[int, str] = {}
        self.executed: set[tuple[str, str, str]] = set()
        self.freed: list[tuple[str, str, str]] = []
        self.approved: dict[str, datetime] = {}
        self.done: dict[str, datetime] = {}

    def action_of(self, event: AuditEvent) -> str:
        """The action of the event's request (items name their request, not its action)."""
        pk = _request_pk(event.correlation_id)
        if pk is None:
            return event.target_type or "-"
        if pk not in self.actions:
            found = LifecycleRequest.objects.filter(pk=pk).values_list("action", flat=True)
            self.actions[pk] = found.first() or event.target_type or "-"
        return self.actions[pk]

    def add(self, event: AuditEvent) -> None:
        verb, figures = event.verb, self.figures
        figures.events += 1
        if verb in ACTION_VERBS:
            figures.actions[(self.action_of(event), verb.split(".", 1)[1])] += 1
        self._timing(event)
        if verb == AuditVerb.ITEM_EXECUTED:
            self._executed(event)
        elif verb in OBSERVED_CHANGES and event.actor_type == ActorType.SYSTEM:
            self._observed(event)
        elif verb in {AuditVerb.ITEM_FAILED, AuditVerb.ITEM_STALE}:
            figures.failed.append(event)
        elif verb == AuditVerb.REQUEST_EXPIRED:
            figures.expired.append(event)
        elif verb in ACCESS_VERBS:
            figures.access_changes.append(event)
        elif verb == AuditVerb.AUTH_LOCKED_OUT:
            figures.lockouts.append(event)
        elif verb.endswith("refused"):
            figures.refused.append(event)
        elif verb == AuditVerb.REQUEST_CREATED and (event.after or {}).get("override_in_use"):
            figures.overrides.append({"event": event, "approvers": []})

    def _timing(self, event: AuditEvent) -> None:
        if event.verb == AuditVerb.REQUEST_APPROVED and (event.after or {}).get("status") == (
            "approved"
        ):
            self.approved[event.correlation_id] = event.occurred_at
        elif event.verb == AuditVerb.REQUEST_COMPLETED:
            self.done[event.correlation_id] = event.occurred_at

    def _key(self, event: AuditEvent) -> tuple[str, str, str]:
        return (event.target_id, event.target_account, event.target_region)

    def _executed(self, event: AuditEvent) -> None:
        action = self.action_of(event)
        self.executed.add(self._key(event))
        self.figures.amidash_changes.append(
            OutsideChange(event.sequence, event.occurred_at, *self._key(event), kind=action)
        )
        self.figures.weekly_actions.setdefault(week_of(event.occurred_at), Counter())[action] += 1
        if action in IMAGE_OUTCOMES:
            self.figures.images[IMAGE_OUTCOMES[action]] += 1
        if action == "deregister":
            self.freed.append(self._key(event))

    def _observed(self, event: AuditEvent) -> None:
        key = self._key(event)
        if key in self.executed:
            self.executed.discard(key)
            return
        kind = event.verb.split(".", 1)[1]
        if event.verb == AuditVerb.IMAGE_SHARING_CHANGED:
            kind = "sharing"
        elif isinstance(event.after, dict) and event.after.get("state"):
            kind = f"{kind} to {event.after['state']}"
        self.figures.outside.append(
            OutsideChange(event.sequence, event.occurred_at, *key, kind=kind)
        )


def _storage_freed(figures: ReportFigures, freed: list[tuple[str, str, str]]) -> None:
    """Snapshot storage of the images amidash deregistered, priced as the inventory prices it."""
    if not freed:
        return
    wanted = Q()
    for image_id, account, region in freed:
        wanted |= Q(image_id=image_id, account__account_id=account, region=region)
    gib = sum(Image.objects.filter(wanted).values_list("storage_gib", flat=True))
    price = Decimal(str(settings.STORAGE_PRICE_PER_GB_MONTH))
    figures.storage_freed_gib = gib
    figures.cost_freed = (price * gib).quantize(Decimal("0.01"))


def _latencies(
    figures: ReportFigures, approved: dict[str, datetime], done: dict[str, datetime]
) -> None:
    """Request to its final approval, and final approval to the end of its execution, for the
    approvals and executions that happened in the period."""
    created = _times(AuditVerb.REQUEST_CREATED, set(approved))
    figures.approvals = [
        (at, (at - created[c]).total_seconds()) for c, at in approved.items() if c in created
    ]
    figures.to_approval.seconds = [seconds for _, seconds in figures.approvals]
    approvals = _times(AuditVerb.REQUEST_APPROVED, set(done), status="approved")
    figures.to_execution.seconds = [
        (at - approvals[c]).total_seconds() for c, at in done.items() if c in approvals
    ]


def _override_approvers(figures: ReportFigures) -> None:
    correlations = {o["event"].correlation_id for o in figures.overrides}
    approvers: dict[str, list[str]] = defaultdict(list)
    for correlation, name in AuditEvent.objects.filter(
        verb=AuditVerb.REQUEST_APPROVED, correlation_id__in=correlations
    ).values_list("correlation_id", "actor_name"):
        approvers[correlation].append(name)
    for override in figures.overrides:
        override["approvers"] = approvers[override["event"].correlation_id]


def _cloudtrail(figures: ReportFigures) -> None:
    """Who CloudTrail says made each change, outside amidash or by it (its look-up may postdate
    the period)."""
    changes = [*figures.outside, *figures.amidash_changes]
    outcomes = outcomes_for(change.sequence for change in changes)
    for change in changes:
        change.cloudtrail = describe_outcome(outcomes.get(change.sequence))


def _open_at_end(scope: ReportScope) -> int:
    """Requests made before the period's end that had not finished by then."""
    requests = scope.requests().filter(created_at__lt=scope.end)
    return requests.filter(Q(finished_at__isnull=True) | Q(finished_at__gte=scope.end)).count()


#: The weekly series of a longer period (an export of the whole log) start at its first event,
#: and at most this many weeks before its end.
MAX_WEEKS = 156


def report_weeks(
    scope: ReportScope, now: datetime, first_event: datetime | None = None
) -> list[str]:
    """The Monday of every week the period touches, up to the week of ``now``; of a period
    longer than MAX_WEEKS, the weeks from its first event (``first_event``) and the last
    MAX_WEEKS at most."""
    last = min(scope.end - timedelta(microseconds=1), now)
    start = scope.start
    if last - start > timedelta(weeks=MAX_WEEKS):
        start = max(start, first_event or last, last - timedelta(weeks=MAX_WEEKS - 1))
    monday = date.fromisoformat(week_of(start))
    weeks = []
    while monday <= last.date():
        weeks.append(monday.isoformat())
        monday += timedelta(days=7)
    return weeks


def week_end(scope: ReportScope, week: str, now: datetime) -> datetime:
    """The moment a week's estate is counted: its end, or the period's end or now if earlier."""
    monday = datetime.combine(date.fromisoformat(week), time.min, tzinfo=scope.start.tzinfo or UTC)
    return min(monday + timedelta(days=7), scope.end, now)


def _estate(figures: ReportFigures, now: datetime) -> None:
    """The images in scope and the unused ones at the end of each week (see EstatePoint),
    rebuilt from first_seen_at, gone_at and last_seen_in_use_at in one query."""
    scope, aggregates = figures.scope, {}
    moments = [week_end(scope, week, now) for week in figures.weeks]
    for index, moment in enumerate(moments):
        present = Q(first_seen_at__lte=moment) & (Q(gone_at__isnull=True) | Q(gone_at__gt=moment))
        unused = Q(in_use=False) & (
            Q(last_seen_in_use_at__isnull=True) | Q(last_seen_in_use_at__lt=moment)
        )
        aggregates[f"images_{index}"] = Count("pk", filter=present)
        aggregates[f"unused_{index}"] = Count("pk", filter=present & unused)
    counts = scope.images().aggregate(**aggregates) if aggregates else {}
    figures.estate = [
        EstatePoint(week, moment, counts[f"images_{index}"], counts[f"unused_{index}"])
        for index, (week, moment) in enumerate(zip(figures.weeks, moments, strict=True))
    ]


def compute_figures(
    scope: ReportScope, queryset: QuerySet[AuditEvent] | None = None, *, now: datetime | None = None
) -> ReportFigures:
    """Every figure of the report for ``scope`` (``queryset`` narrows the events further;
    ``now`` ends the weekly series of a period that is not over yet)."""
    now = now or timezone.now()
    first_event = None
    if min(scope.end, now) - scope.start > timedelta(weeks=MAX_WEEKS):
        first_event = scope.events(queryset).aggregate(first=Min("occurred_at"))["first"]
    figures = ReportFigures(scope=scope, weeks=report_weeks(scope, now, first_event))
    walk = _Pass(figures)
    for event in scope.events(queryset).iterator(chunk_size=2000):
        walk.add(event)
    _storage_freed(figures, walk.freed)
    _latencies(figures, walk.approved, walk.done)
    _override_approvers(figures)
    _cloudtrail(figures)
    figures.open_at_end = _open_at_end(scope)
    _estate(figures, now)
    return figures
