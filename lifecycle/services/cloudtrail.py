"""Who made each image change the sync observed: CloudTrail's answer, joined into the audit log.

A sync sees that an image was deprecated, disabled, re-enabled, deregistered or shared
differently (made public or private, shared with or unshared from accounts); it cannot see who
did it. This pass asks CloudTrail (``LookupEvents`` by the image as ``ResourceName``, in the
image's account and Region, between the image's previous audit event and the observation) for
the matching management event, and records what it found as a new audit event that names the
observation it explains (``after.observes``: its sequence). The observation itself is never
touched: the log is append-only and hash-chained (invariant 6 in docs/architecture.md).

- ``cloudtrail.found``: the principal (type, ARN, user or session name, ``SourceIdentity`` of an
  assumed role), the event's name, id and time, and the source address.
- ``cloudtrail.not_found``: CloudTrail has no such event (none in the window, the observation is
  older than CloudTrail's 90 days, or amidash may not call LookupEvents), with the reason.
- Nothing at all when CloudTrail throttled or could not be reached: the observation stays "not
  yet looked up" and the next pass tries again. Throttling is never taken for "not found".

amidash's own mutations (``item.executed``) are looked up the same way, for the call of the
request's action: CloudTrail names the role session amidash used, with the ``SourceIdentity``
it gave (``request-<pk>.<requester>``), so the report shows each change amidash made under
that identity. A copy is looked up in the Region of its first copy, where CloudTrail records
CopyImage.

Calls are paced per account+Region (CloudTrail allows 2 LookupEvents per second in each) through
the same PostgreSQL token buckets as the lifecycle's mutations (``lifecycle.services.pacing``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from inventory.models import Account
from inventory.services.aws import AWS_ERRORS, DENIED_CODES, AwsSession, describe_error
from lifecycle.actions import ACTIONS
from lifecycle.models import ActorType, AuditEvent, AuditSource, AuditVerb, LifecycleRequest
from lifecycle.services import pacing
from lifecycle.services.audit import Target, record_event

logger = logging.getLogger(__name__)

#: CloudTrail's event history: management events of the last 90 days.
RETENTION = timedelta(days=90)
#: The change may have happened a little before the image's previous event was written (the
#: listing comes before the save) and CloudTrail's clock is not ours: widen the window.
MARGIN = timedelta(minutes=60)
LOOKUP_API = "LookupEvents"
#: Most pages of one look-up (50 events each): an image with more events in its window is rare.
MAX_PAGES = 10
THROTTLING_CODES = {
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
}
#: Observed changes the pass explains (what the report lists as made outside amidash).
OBSERVED_VERBS = (
    AuditVerb.IMAGE_STATE_CHANGED,
    AuditVerb.IMAGE_DEPRECATION_CHANGED,
    AuditVerb.IMAGE_SHARING_CHANGED,
    AuditVerb.IMAGE_GONE,
)
OUTCOME_VERBS = (AuditVerb.CLOUDTRAIL_FOUND, AuditVerb.CLOUDTRAIL_NOT_FOUND)
#: amidash's own mutations, looked up to show they carry amidash's identity.
EXECUTED_VERB = AuditVerb.ITEM_EXECUTED
NOT_FOUND = "not found in CloudTrail"
NOT_LOOKED_UP = "not yet looked up in CloudTrail"


@dataclass(frozen=True)
class Wanted:
    """What to look for: the calls that made the change, of which resource, in which Region."""

    names: tuple[str, ...]
    resource: str
    region: str


def wanted(event: AuditEvent) -> Wanted | None:
    """The CloudTrail event that explains an observation or an executed item; None when there
    is nothing to look for (a request gone from the database)."""
    if event.verb != EXECUTED_VERB:
        return Wanted(expected_event_names(event), event.target_id, event.target_region)
    pk = event.correlation_id.removeprefix("request:")
    action = (
        LifecycleRequest.objects.filter(pk=int(pk)).values_list("action", flat=True).first()
        if event.correlation_id.startswith("request:") and pk.isdigit()
        else None
    )
    if action not in ACTIONS:
        return None
    operation = ACTIONS[action].operation
    copies = ((event.after or {}).get("response") or {}).get("Copies") or {}
    if operation == "CopyImage" and isinstance(copies, dict) and copies:
        region, image_id = sorted(copies.items())[0]
        return Wanted((operation,), str(image_id), str(region))
    return Wanted((operation,), event.target_id, event.target_region)


def expected_event_names(event: AuditEvent) -> tuple[str, ...]:
    """The EC2 calls that make the change an observation records."""
    before, after = event.before or {}, event.after or {}
    if event.verb == AuditVerb.IMAGE_GONE:
        return ("DeregisterImage",)
    if event.verb == AuditVerb.IMAGE_SHARING_CHANGED:
        return ("ModifyImageAttribute",)
    if event.verb == AuditVerb.IMAGE_DEPRECATION_CHANGED:
        if after.get("deprecation_time"):
            return ("EnableImageDeprecation",)
        return ("DisableImageDeprecation",)
    if after.get("state") == "disabled":
        return ("DisableImage",)
    if before.get("state") == "disabled":
        return ("EnableImage",)
    return ("DisableImage", "EnableImage", "DeregisterImage")


def pending_observations(limit: int | None = None) -> QuerySet[AuditEvent]:
    """Observed changes of the sync, and amidash's executed items, that no CloudTrail outcome
    explains yet, oldest first."""
    explained = (
        AuditEvent.objects.filter(verb__in=OUTCOME_VERBS)
        .annotate(observes=Cast(KeyTextTransform("observes", "after"), BigIntegerField()))
        .values("observes")
    )
    observed = Q(verb__in=OBSERVED_VERBS, actor_type=ActorType.SYSTEM, source=AuditSource.SYNC)
    executed = Q(verb=EXECUTED_VERB, target_type="image")
    pending = (
        AuditEvent.objects.filter(observed | executed)
        .exclude(sequence__in=explained)
        .order_by("sequence")
    )
    return pending[:limit] if limit else pending


def outcomes_for(sequences: Iterable[int]) -> dict[int, AuditEvent]:
    """The CloudTrail outcome recorded for each of these observations (the latest, if several)."""
    wanted = [int(sequence) for sequence in sequences]
    if not wanted:
        return {}
    found: dict[int, AuditEvent] = {}
    events = (
        AuditEvent.objects.filter(verb__in=OUTCOME_VERBS)
        .annotate(observes=Cast(KeyTextTransform("observes", "after"), BigIntegerField()))
        .filter(observes__in=wanted)
        .order_by("sequence")
    )
    for event in events:
        found[event.observes] = event
    return found


def describe_outcome(outcome: AuditEvent | None) -> str:
    """One line for a report: who, when and from where; or why CloudTrail cannot say."""
    if outcome is None:
        return NOT_LOOKED_UP
    after = outcome.after or {}
    if outcome.verb != AuditVerb.CLOUDTRAIL_FOUND:
        reason = after.get("reason")
        return f"{NOT_FOUND} ({reason})" if reason else NOT_FOUND
    who = after.get("principal_arn") or after.get("username") or "unknown principal"
    if after.get("source_identity"):
        who = f"{who} (source identity {after['source_identity']})"
    return (
        f"{who}, {after.get('event_name', '')} at {_readable(after.get('event_time', ''))} "
        f"from {after.get('source_ip') or 'an unknown address'}"
    )


def _readable(moment: str) -> str:
    """An ISO time as a report shows times (UTC, to the second)."""
    try:
        return f"{datetime.fromisoformat(moment).astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    except (TypeError, ValueError):
        return moment or "an unknown time"


@dataclass
class LookupSummary:
    """What one pass did: outcomes recorded, and observations left for the next pass."""

    found: int = 0
    not_found: int = 0
    retry: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "not_found": self.not_found,
            "retry": self.retry,
            "errors": self.errors[:10],
        }


class RetryLater(Exception):
    """CloudTrail throttled or could not be reached: look this up again in a later pass."""


def look_up_observations(
    limit: int | None = None,
    source: str = AuditSource.WORKER,
    sleep: Callable[[float], None] = time.sleep,
    observations: QuerySet[AuditEvent] | None = None,
) -> LookupSummary:
    """Look up every pending observation in CloudTrail (at most ``limit``; ``observations``
    narrows them) and record each outcome; throttled account+Regions are left for the next
    pass."""
    limit = limit or settings.CLOUDTRAIL_LOOKUPS_PER_RUN
    summary = LookupSummary()
    accounts = {account.account_id: account for account in Account.objects.all()}
    sessions: dict[str, AwsSession] = {}
    throttled: set[tuple[str, str]] = set()
    pending = pending_observations()
    if observations is not None:
        pending = pending.filter(sequence__in=observations.values("sequence"))
    for event in pending[:limit]:
        where = (event.target_account, event.target_region)
        if where in throttled:
            summary.retry += 1
            continue
        try:
            outcome = _look_up(event, accounts, sessions, sleep)
        except RetryLater as error:
            throttled.add(where)
            summary.retry += 1
            summary.errors.append(f"{event.target_account}/{event.target_region}: {error}")
            continue
        if _record_outcome(event, outcome, source):
            summary.found += 1
        else:
            summary.not_found += 1
    return summary


def _look_up(
    event: AuditEvent,
    accounts: dict[str, Account],
    sessions: dict[str, AwsSession],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """CloudTrail's management event that made the observed change, as an outcome's ``after``."""
    now = timezone.now()
    if event.occurred_at < now - RETENTION:
        return {"found": False, "reason": "older than CloudTrail's 90 days of event history"}
    account = accounts.get(event.target_account)
    if account is None:
        return {"found": False, "reason": f"account {event.target_account} is not registered"}
    looking_for = wanted(event)
    if looking_for is None:
        return {"found": False, "reason": "the request of this item is no longer known"}
    names = looking_for.names
    start = max(_previous_event_time(event) - MARGIN, now - RETENTION)
    end = event.occurred_at + MARGIN
    try:
        if account.account_id not in sessions:
            sessions[account.account_id] = AwsSession(account)
        client = sessions[account.account_id].client("cloudtrail", looking_for.region)
        match = _find(client, account.account_id, looking_for, start, end, sleep)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in DENIED_CODES and getattr(error, "operation_name", "") == LOOKUP_API:
            return {"found": False, "reason": f"no permission to look up: {describe_error(error)}"}
        raise RetryLater(describe_error(error)) from None
    except AWS_ERRORS as error:
        raise RetryLater(describe_error(error)) from None
    if match is None:
        window = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
        what = f"{' or '.join(names)} of {looking_for.resource}"
        return {"found": False, "reason": f"no {what} in {looking_for.region} {window}"}
    return _found(match)


def _previous_event_time(event: AuditEvent) -> datetime:
    """When the image was last recorded before this change (its earlier state was known then)."""
    previous = (
        AuditEvent.objects.filter(
            target_type="image",
            target_id=event.target_id,
            target_account=event.target_account,
            target_region=event.target_region,
            sequence__lt=event.sequence,
        )
        .order_by("-sequence")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return previous or event.occurred_at - RETENTION


def _find(
    client: Any,
    account_id: str,
    looking_for: Wanted,
    start: datetime,
    end: datetime,
    sleep: Callable[[float], None],
) -> dict[str, Any] | None:
    """The newest matching CloudTrail event of the window (events come newest first)."""
    resource = looking_for.resource
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": resource}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": 50,
    }
    for _page in range(MAX_PAGES):
        _pace(account_id, looking_for.region, sleep)
        try:
            answer = client.lookup_events(**params)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in THROTTLING_CODES:
                raise RetryLater(describe_error(error)) from None
            raise
        for candidate in answer.get("Events", []):
            if candidate.get("EventName") in looking_for.names:
                return candidate
        if not answer.get("NextToken"):
            return None
        params["NextToken"] = answer["NextToken"]
    return None


def _pace(account_id: str, region: str, sleep: Callable[[float], None]) -> None:
    rate = pacing.Rate(settings.CLOUDTRAIL_LOOKUPS_PER_SECOND, 2)
    key = pacing.bucket_key(account_id, region, LOOKUP_API)
    while (wait := pacing.try_take(key, rate)) > 0:
        sleep(wait)


def _found(event: dict[str, Any]) -> dict[str, Any]:
    """The outcome of a matching event: who, when, from where (from its CloudTrailEvent)."""
    try:
        detail = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        detail = {}
    identity = detail.get("userIdentity") or {}
    event_time = event.get("EventTime")
    return {
        "found": True,
        "event_id": event.get("EventId", ""),
        "event_name": event.get("EventName", ""),
        "event_time": event_time.isoformat() if isinstance(event_time, datetime) else "",
        "username": event.get("Username", ""),
        "access_key_id": event.get("AccessKeyId", ""),
        "principal_type": identity.get("type", ""),
        "principal_arn": identity.get("arn", ""),
        "source_identity": (identity.get("sessionContext") or {}).get("sourceIdentity", ""),
        "source_ip": detail.get("sourceIPAddress", ""),
    }


def _record_outcome(event: AuditEvent, outcome: dict[str, Any], source: str) -> bool:
    """Record what CloudTrail said of an observation as a new event; True when found."""
    outcome = dict(outcome)
    found = bool(outcome.pop("found"))
    after = {"observes": event.sequence, **outcome}
    if found:
        verb = AuditVerb.CLOUDTRAIL_FOUND
        message = f"Event #{event.sequence} in CloudTrail: {outcome['event_name']} by " + (
            outcome["principal_arn"] or outcome["username"] or "an unknown principal"
        )
    else:
        verb = AuditVerb.CLOUDTRAIL_NOT_FOUND
        message = f"Event #{event.sequence} {NOT_FOUND}: {outcome['reason']}"
    with transaction.atomic():
        record_event(
            verb,
            actor=None,
            source=source,
            target=Target(
                "image",
                event.target_id,
                event.target_account,
                event.target_region,
                event.target_repr,
            ),
            after=after,
            message=message[:2000],
            correlation_id=event.correlation_id,
        )
    return found
