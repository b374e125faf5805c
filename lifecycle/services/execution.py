"""Carrying out approved requests: the only code that changes AWS.

For each item (invariants 3, 4, 5 and 10 in docs/architecture.md):

1. claim it with a conditional UPDATE (pending -> executing) committed before any AWS call, so a
   redelivered task or a second worker never acts on it again. The claim is a lease with a
   fencing token: right before each AWS mutation the worker renews it with a conditional UPDATE
   that succeeds only while it still holds it (``hold_lease``), and stops (``LeaseLost``) when
   it does not. While it waits (pacing, throttling back-off) a heartbeat renews the lease at
   least three times per lease period (``keep_lease``), so a long wait never lets it lapse;
2. re-read the image and what uses it from AWS; if anything drifted from what was approved
   (state, gone, deprecation, exposure, newly in use) mark it stale and do nothing;
3. wait for a token of the account+Region's mutation bucket, then call AWS once. The mutating
   client makes no retries of its own: only an answer that says the call was not carried out
   (throttling) is retried here; a timeout or a dropped connection leaves the item executing;
4. re-read to confirm, update the inventory, record AWS's answer and an audit event.

Any error in one item settles that item (failed before a mutation went out, needs review after)
and the rest continue. A worker killed mid-item leaves the item executing; once its lease has
expired (so no call of it can still be in flight) ``reconcile_items`` takes the lease over and
settles the item by reading AWS: succeeded if the effect is there, back to pending if no mutation
was ever sent, "needs review" otherwise, never "failed" for what it cannot prove did not happen.
Copies carry a ClientToken per item and Region, so a copy is found again by repeating CopyImage
with its token (AWS answers the same ImageId and makes no second copy).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inventory.models import Account, AccountRegion, Image
from inventory.observations import ObservedImage
from inventory.services.aws import AWS_ERRORS, AwsSession, client_config, describe_error
from inventory.services.consumers import external_usage_keys
from inventory.services.images import add_images, apply_observation
from inventory.services.listing import list_image_usage
from lifecycle.actions import ACTIONS
from lifecycle.actions.base import usage_key
from lifecycle.choices import FINAL_ITEM_STATES, ItemStatus, RequestStatus
from lifecycle.models import AuditSource, AuditVerb, LifecycleRequest, RequestItem
from lifecycle.services import notifications, pacing
from lifecycle.services.audit import record_event
from lifecycle.services.requests import request_fingerprint

logger = logging.getLogger(__name__)
THROTTLING_CODES = {"RequestLimitExceeded", "Throttling", "ThrottlingException"}


class Unsettled(Exception):
    """AWS may or may not have carried out the mutation (timeout, dropped connection)."""


class LeaseLost(Exception):
    """This worker no longer holds the item's lease: it must not call AWS for it."""


def lease_seconds() -> float:
    """How long a lease lasts: never less than a call in flight may take."""
    in_flight = settings.AWS_CONNECT_TIMEOUT + settings.AWS_READ_TIMEOUT
    return max(float(settings.LIFECYCLE_LEASE_SECONDS), in_flight + 1.0)


class MutationSession(AwsSession):
    """Clients for mutations: botocore makes no retries, so a call goes out at most once."""

    def __init__(self, account: Any = None, actor_name: str | None = None) -> None:
        super().__init__(account, actor_name)
        self._config = client_config().merge(
            Config(retries={"mode": "standard", "total_max_attempts": 1})
        )


@dataclass
class Observation:
    """The image as AWS shows it now (gone when DescribeImages does not list it), what uses it,
    and whether the Recycle Bin holds it."""

    image: ObservedImage
    usage: set[str] = field(default_factory=set)
    in_recycle_bin: bool = False
    #: Public or shared with no recent usage report: other accounts may use it unseen.
    usage_unknown: bool = False

    def state(self) -> dict[str, Any]:
        """What the worker records of the image it read (``ObservedImage.to_reading``)."""
        return self.image.to_reading()


@dataclass
class Sessions:
    """One reading and one mutating session per account, for the whole request."""

    actor_name: str
    reading: dict[str, AwsSession] = field(default_factory=dict)
    mutating: dict[str, MutationSession] = field(default_factory=dict)

    def read(self, item: RequestItem) -> AwsSession:
        key = item.account_id
        if key not in self.reading:
            self.reading[key] = AwsSession(item_account(item), self.actor_name)
        return self.reading[key]

    def mutate(self, item: RequestItem) -> MutationSession:
        key = item.account_id
        if key not in self.mutating:
            self.mutating[key] = MutationSession(item_account(item), self.actor_name)
        return self.mutating[key]


def item_account(item: RequestItem) -> Account:
    """The account an item acts in: its image's, or the one it names (a setting's item)."""
    if item.image_id is not None:
        return item.image.account
    return Account.objects.get(account_id=item.account_id)


# --- reading ----------------------------------------------------------------------------------


def observe_image(session: AwsSession, region: str, image_id: str) -> Observation:
    """Re-read one image, whether it is in the Recycle Bin, and what uses it, from AWS."""
    ec2 = session.client("ec2", region)
    images = ec2.describe_images(
        ImageIds=[image_id], IncludeDeprecated=True, IncludeDisabled=True
    ).get("Images", [])
    data = next((i for i in images if i.get("ImageId") == image_id), None)
    if data is None:
        binned = ec2.list_images_in_recycle_bin(ImageIds=[image_id]).get("Images", [])
        in_bin = any(i.get("ImageId") == image_id for i in binned)
        return Observation(_gone(session, region, image_id), set(), in_bin)
    observed = ObservedImage.from_described(data, _account_id(session), region)
    return Observation(observed, read_usage(session, region, image_id))


def _account_id(session: AwsSession) -> str:
    return session.account.account_id if session.account else ""


def _gone(session: AwsSession, region: str, image_id: str) -> ObservedImage:
    return ObservedImage.gone(image_id, _account_id(session), region, timezone.now())


def read_usage(session: AwsSession, region: str, image_id: str) -> set[str]:
    """What uses the image now, as usage keys (see ``list_image_usage``)."""
    return {
        usage_key(usage.usage_type, usage.resource_id)
        for usage in list_image_usage(session, region, image_id)
    }


def is_throttled(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in THROTTLING_CODES


def is_not_found(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code.startswith("InvalidAMIID")


def observe_or_gone(session: AwsSession, region: str, image_id: str) -> Observation:
    try:
        return observe_image(session, region, image_id)
    except ClientError as error:
        if is_not_found(error):
            return Observation(_gone(session, region, image_id))
        raise


def drift_of(item: RequestItem, request: LifecycleRequest, now: Observation) -> str:
    """Why the image no longer is what was approved, or "" when it still is (the action's spec
    says which changes count). Other accounts' use comes from the image's latest usage report
    (``external:<account>``), for only the owner's report can see it. An item that targets no
    image (an account+Region setting) has no such use."""
    if item.image_id is not None:
        image = Image.objects.get(pk=item.image_id)
        now = replace(
            now,
            usage=now.usage | external_usage_keys(image),
            usage_unknown=not now.image.is_gone and image.is_usage_unknown,
        )
    return ACTIONS[request.action].drift(item.observed, now, request.override_in_use)


# --- mutating ---------------------------------------------------------------------------------


def call_once(
    call: Callable[[], dict[str, Any]],
    sleep: Callable[[float], None],
    before: Callable[[], None] = lambda: None,
) -> dict:
    """Make one mutation, retrying only answers that say it was not carried out (throttling).

    ``before`` runs right before each attempt (the lease check: it raises to stop).
    """
    for attempt in range(settings.LIFECYCLE_THROTTLE_RETRIES + 1):
        before()
        try:
            answer = call()
        except ClientError as error:
            if is_throttled(error) and attempt < settings.LIFECYCLE_THROTTLE_RETRIES:
                sleep(min(0.2 * 2**attempt, 20.0))
                continue
            raise
        except ParamValidationError:
            raise  # refused before anything was sent
        except AWS_ERRORS as error:  # no answer: AWS may have acted
            raise Unsettled(describe_error(error)) from error
        answer.pop("ResponseMetadata", None)
        return answer
    raise AssertionError("unreachable")


def mutate(
    request: LifecycleRequest,
    item: RequestItem,
    sessions: Sessions,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Make the action's calls for one item, each under its account+Region's pacing and right
    after renewing the item's lease; returns what AWS answered, as the action records it. Each
    answer is saved on the item as it comes, so none is lost to a later error or a dead worker."""
    spec = ACTIONS[request.action]
    session = sessions.mutate(item)
    answers = []
    wait = heartbeat(item, sleep)
    for call in spec.calls(item, request.parameters):
        method = getattr(session.client(call.service, call.region), call.method)
        pacing.acquire(item.account_id, call.region, call.operation, sleep=wait)
        answer = call_once(partial(method, **call.arguments), wait, before=lambda: hold_lease(item))
        answers.append((call, answer))
        save_progress(item, spec.answer(answers))
    return spec.answer(answers)


def save_progress(item: RequestItem, response: dict[str, Any]) -> None:
    """Keep what AWS has answered so far on the item, while it executes."""
    RequestItem.objects.filter(pk=item.pk, status=ItemStatus.EXECUTING).update(response=response)
    item.response = response


def effect_visible(action: str, observation: Observation, params: dict[str, Any]) -> bool:
    """Does AWS show that the action took effect?"""
    return ACTIONS[action].effect_visible(observation.state(), params)


# --- the inventory ----------------------------------------------------------------------------


def store_observation(image: Image, observation: Observation, action: str) -> None:
    """Have the inventory record what AWS now shows, announced like a sync's observation."""
    shared_with = [] if ACTIONS[action].removes_launch_permissions else None
    apply_observation(image, observation.image, source=AuditSource.WORKER, shared_with=shared_with)


def store_copies(item: RequestItem, copies: dict[str, str], sessions: Sessions) -> None:
    """Add the copies to the inventory where their Region is inventoried (unless a sync of it
    is writing its listing: that sync, or the next, adds them)."""
    if not copies:
        return
    session = sessions.read(item)
    for region, image_id in copies.items():
        account_region = AccountRegion.objects.filter(
            account=item.image.account, region=region
        ).first()
        if account_region is None:
            continue
        observation = observe_or_gone(session, region, image_id)
        if not observation.image.is_gone:
            add_images(account_region, [observation.image], source=AuditSource.WORKER)


# --- items ------------------------------------------------------------------------------------


def claim_item(item_pk: int) -> str | None:
    """pending -> executing with a fresh lease, committed at once; its fencing token, or None
    when somebody else has it."""
    token, now = uuid.uuid4().hex, timezone.now()
    claimed = RequestItem.objects.filter(pk=item_pk, status=ItemStatus.PENDING).update(
        status=ItemStatus.EXECUTING,
        claimed_at=now,
        attempts=F("attempts") + 1,
        lease_token=token,
        lease_expires_at=now + timedelta(seconds=lease_seconds()),
    )
    return token if claimed == 1 else None


def hold_lease(item: RequestItem) -> None:
    """Renew the lease right before an AWS mutation and note that one goes out; LeaseLost when
    this worker's lease expired or passed to somebody else (then it must not call)."""
    now = timezone.now()
    held = RequestItem.objects.filter(
        pk=item.pk,
        status=ItemStatus.EXECUTING,
        lease_token=item.lease_token,
        lease_expires_at__gt=now,
    ).update(
        lease_expires_at=now + timedelta(seconds=lease_seconds()),
        mutation_sent_at=Coalesce(F("mutation_sent_at"), Value(now)),
    )
    if held != 1:
        raise LeaseLost(f"item {item.pk}: the lease is no longer this worker's")


def keep_lease(item: RequestItem) -> None:
    """The heartbeat: extend this worker's lease while it waits, without saying a mutation went
    out; LeaseLost when the lease is no longer this worker's."""
    now = timezone.now()
    held = RequestItem.objects.filter(
        pk=item.pk,
        status=ItemStatus.EXECUTING,
        lease_token=item.lease_token,
        lease_expires_at__gt=now,
    ).update(lease_expires_at=now + timedelta(seconds=lease_seconds()))
    if held != 1:
        raise LeaseLost(f"item {item.pk}: the lease is no longer this worker's")


def heartbeat(item: RequestItem, sleep: Callable[[float], None]) -> Callable[[float], None]:
    """``sleep``, in steps of a third of the lease at most, renewing the lease after each."""

    def wait(seconds: float) -> None:
        step = lease_seconds() / 3
        while seconds > 0:
            chunk = min(seconds, step)
            sleep(chunk)
            seconds -= chunk
            keep_lease(item)

    return wait


def take_over(item: RequestItem, now: datetime) -> bool:
    """The reconciler takes an expired lease (conditional: a live holder keeps it)."""
    token = uuid.uuid4().hex
    taken = RequestItem.objects.filter(
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True),
        pk=item.pk,
        status=ItemStatus.EXECUTING,
        lease_token=item.lease_token,
    ).update(lease_token=token, lease_expires_at=now + timedelta(seconds=lease_seconds()))
    item.lease_token = token
    return taken == 1


def _event(item: RequestItem, verb: str, after: dict[str, Any], message: str = "") -> None:
    record_event(
        verb,
        actor=None,
        source=AuditSource.WORKER,
        target=item,
        before={"status": ItemStatus.EXECUTING, "observed": item.observed},
        after=after,
        message=message,
        correlation_id=f"request:{item.request_id}",
    )


def settle_item(
    item: RequestItem,
    status: str,
    verb: str,
    *,
    response: Any = None,
    error: str = "",
    extra: dict[str, Any] | None = None,
) -> bool:
    """executing -> a final state (conditional), with its audit event; False if already settled."""
    with transaction.atomic():
        current = (
            RequestItem.objects.select_for_update()
            .filter(pk=item.pk, status=ItemStatus.EXECUTING)
            .values("response")
            .first()
        )
        changed = current is not None
        if changed:
            # Without a new answer, what was saved while executing (copies made) stays.
            response = current["response"] if response is None else response
            RequestItem.objects.filter(pk=item.pk).update(
                status=status, finished_at=timezone.now(), response=response, error=error[:4000]
            )
            after = {"status": status, "response": response, "error": error} | (extra or {})
            _event(item, verb, after, message=error)
    item.status, item.response, item.error = status, response, error
    return bool(changed)


def execute_item(
    item: RequestItem,
    request: LifecycleRequest,
    sessions: Sessions,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Carry out one claimed item; returns its final status (or executing when unsettled)."""
    with transaction.atomic():
        _event(
            item, AuditVerb.ITEM_CLAIMED, {"status": ItemStatus.EXECUTING, "attempt": item.attempts}
        )
    spec = ACTIONS[request.action]
    try:
        before = spec.observe(sessions.read(item), item)
    except AWS_ERRORS as error:
        settle_item(
            item,
            ItemStatus.FAILED,
            AuditVerb.ITEM_FAILED,
            error=f"re-read: {describe_error(error)}",
        )
        return item.status
    drift = drift_of(item, request, before)
    if drift:
        settle_item(
            item, ItemStatus.STALE, AuditVerb.ITEM_STALE, error=drift, extra={"now": before.state()}
        )
        return item.status
    try:
        answer = mutate(request, item, sessions, sleep)
    except Unsettled as error:
        RequestItem.objects.filter(pk=item.pk).update(error=f"unsettled: {error}")
        logger.warning("item %s unsettled: %s; the reconciler will read AWS", item.pk, error)
        return ItemStatus.EXECUTING
    except (ClientError, ParamValidationError) as error:
        settle_item(item, ItemStatus.FAILED, AuditVerb.ITEM_FAILED, error=describe_error(error))
        return item.status
    return confirm_item(item, request, sessions, answer)


def confirm_item(
    item: RequestItem, request: LifecycleRequest, sessions: Sessions, answer: dict[str, Any]
) -> str:
    """Re-read after the mutation, update the inventory, record the answer."""
    spec = ACTIONS[request.action]
    try:
        after = spec.observe(sessions.read(item), item)
    except AWS_ERRORS as error:
        after = None
        answer = answer | {"confirmation": f"re-read failed: {describe_error(error)}"}
    with transaction.atomic():
        if after is not None:
            spec.record(item, after, request.action)
        store_copies(item, answer.get("Copies", {}), sessions)
        confirmed = after is not None and effect_visible(request.action, after, request.parameters)
        answer = answer | {"confirmed": confirmed}
        settle_item(item, ItemStatus.SUCCEEDED, AuditVerb.ITEM_EXECUTED, response=answer)
    return item.status


# --- requests ---------------------------------------------------------------------------------


def start_request(request_pk: int) -> LifecycleRequest | None:
    """approved -> executing (conditional); the request when it is executing, else None."""
    now = timezone.now()
    with transaction.atomic():
        started = LifecycleRequest.objects.filter(
            pk=request_pk, status=RequestStatus.APPROVED
        ).update(status=RequestStatus.EXECUTING, started_at=now)
        request = LifecycleRequest.objects.filter(pk=request_pk).first()
        if request is None or request.status != RequestStatus.EXECUTING:
            return None
        if started:
            record_event(
                AuditVerb.REQUEST_STARTED,
                actor=None,
                source=AuditSource.WORKER,
                target=request,
                before={"status": RequestStatus.APPROVED},
                after={"status": RequestStatus.EXECUTING},
                correlation_id=f"request:{request.pk}",
            )
    return request


def item_groups(request_pk: int) -> list[tuple[str, str]]:
    """The account+Region pairs of a request's pending items (each has its own pacing)."""
    pending = RequestItem.objects.filter(request_id=request_pk, status=ItemStatus.PENDING)
    return sorted(set(pending.values_list("account_id", "region")))


def execute_request(
    request_pk: int,
    sleep: Callable[[float], None] = time.sleep,
    group: tuple[str, str] | None = None,
) -> LifecycleRequest | None:
    """Run the pending items of an approved request (of one account+Region with ``group``),
    then finish it when all are settled.

    Idempotent: a redelivered task skips claimed items (the reconciler settles those).
    """
    request = start_request(request_pk)
    if request is None:
        return LifecycleRequest.objects.filter(pk=request_pk).first()
    if request_fingerprint(request) != request.fingerprint:  # the record was altered
        _fail_pending(request, "the request no longer matches the approved fingerprint")
        return finish_request(request.pk)
    # CloudTrail names every mutation with the request and the user who asked for it.
    sessions = Sessions(actor_name=f"request-{request.pk}.{request.requester.get_username()}")
    pending = request.items.filter(status=ItemStatus.PENDING).order_by("pk")
    if group is not None:
        pending = pending.filter(account_id=group[0], region=group[1])
    for item in pending.select_related("image__account").iterator(chunk_size=200):
        token = claim_item(item.pk)
        if token:
            item.attempts, item.lease_token = item.attempts + 1, token
            run_item(item, request, sessions, sleep)
    return finish_request(request.pk)


def run_item(
    item: RequestItem,
    request: LifecycleRequest,
    sessions: Sessions,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """One claimed item, isolated: whatever goes wrong settles this item, and the rest go on.

    At the task's soft time limit the item is settled and the task stops; its pending items are
    resumed by ``resume_requests``.
    """
    try:
        execute_item(item, request, sessions, sleep)
    except LeaseLost as error:
        logger.warning("%s; the reconciler or another worker has it", error)
    except SoftTimeLimitExceeded as error:
        settle_after_error(item, error)
        raise
    except Exception as error:
        logger.exception("item %s failed", item.pk)
        settle_after_error(item, error)


def settle_after_error(item: RequestItem, error: BaseException) -> None:
    """Failed when no mutation went out for the item; needs review when one did (AWS may have
    acted). If even that cannot be written, the lease expires and the reconciler settles it."""
    message = describe_error(error) if isinstance(error, AWS_ERRORS) else repr(error)
    try:
        sent = RequestItem.objects.filter(pk=item.pk).values_list("mutation_sent_at", flat=True)
        if sent.first() is None:
            settle_item(item, ItemStatus.FAILED, AuditVerb.ITEM_FAILED, error=message)
        else:
            reason = f"error after the AWS call was sent: {message}"
            settle_item(item, ItemStatus.NEEDS_REVIEW, AuditVerb.ITEM_NEEDS_REVIEW, error=reason)
    except Exception:
        logger.exception("item %s left to the reconciler", item.pk)


def _fail_pending(request: LifecycleRequest, reason: str) -> None:
    for item in request.items.filter(status=ItemStatus.PENDING):
        if claim_item(item.pk):
            settle_item(item, ItemStatus.FAILED, AuditVerb.ITEM_FAILED, error=reason)


def request_outcome(statuses: list[str]) -> str:
    """needs review if any item does; else succeeded, partly failed or failed."""
    if ItemStatus.NEEDS_REVIEW in statuses:
        return RequestStatus.NEEDS_REVIEW
    succeeded = statuses.count(ItemStatus.SUCCEEDED)
    if succeeded == len(statuses):
        return RequestStatus.SUCCEEDED
    return RequestStatus.PARTLY_FAILED if succeeded else RequestStatus.FAILED


def finish_request(request_pk: int) -> LifecycleRequest | None:
    """executing -> succeeded / partly_failed / failed once every item is settled."""
    with transaction.atomic():
        request = LifecycleRequest.objects.select_for_update().filter(pk=request_pk).first()
        if request is None or request.status != RequestStatus.EXECUTING:
            return request
        statuses = list(request.items.values_list("status", flat=True))
        if any(status not in FINAL_ITEM_STATES for status in statuses):
            return request
        outcome = request_outcome(statuses)
        request.check_transition(outcome)
        request.status, request.finished_at = outcome, timezone.now()
        request.save(update_fields=["status", "finished_at"])
        record_event(
            AuditVerb.REQUEST_COMPLETED,
            actor=None,
            source=AuditSource.WORKER,
            target=request,
            before={"status": RequestStatus.EXECUTING},
            after={"status": outcome, "items": {s: statuses.count(s) for s in set(statuses)}},
            correlation_id=f"request:{request.pk}",
        )
        notifications.queue_notice(notifications.FINISHED, request_pk)
    return request


# --- the reconciler ---------------------------------------------------------------------------


def reconcile_items(now: datetime | None = None) -> int:
    """Settle items whose lease expired (a worker died or stopped) by reading AWS.

    An expired lease means the worker renewed it last before a call that has since been answered
    or timed out, so nothing of it is in flight. The reconciler takes the lease over, then: the
    effect is visible -> succeeded; no mutation was ever sent -> pending again (resumed); copies
    -> CopyImage repeated with each Region's ClientToken, which finds a copy made and makes one
    that never was, once; anything else -> needs review. Never failed for what it cannot prove.
    Returns how many items it settled or released.
    """
    now = now or timezone.now()
    legacy = now - timedelta(seconds=lease_seconds())
    expired = RequestItem.objects.filter(status=ItemStatus.EXECUTING).filter(
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True, claimed_at__lt=legacy)
    )
    settled = 0
    sessions = Sessions(actor_name="reconciler")
    for item in expired.select_related("request", "image__account"):
        if not take_over(item, now):
            continue
        try:
            settled += _reconcile(item, sessions)
        except Exception:  # one item's trouble never stops the others; its lease expires again
            logger.exception("reconciling item %s", item.pk)
        finish_request(item.request_id)
    return settled


def _reconcile(item: RequestItem, sessions: Sessions) -> int:
    request = item.request
    if item.mutation_sent_at is None and item.claimed_at and item.lease_expires_at:
        return int(release_item(item))
    spec = ACTIONS[request.action]
    if spec.repeatable:
        return _reconcile_by_repeating(item, request, sessions)
    try:
        observation = spec.observe(sessions.read(item), item)
    except AWS_ERRORS as error:
        logger.warning("reconciling item %s: %s", item.pk, describe_error(error))
        return 0
    if spec.confirmed_by_reading and effect_visible(
        request.action, observation, request.parameters
    ):
        with transaction.atomic():
            spec.record(item, observation, request.action)
            done = settle_item(
                item,
                ItemStatus.SUCCEEDED,
                AuditVerb.ITEM_EXECUTED,
                response={"reconciled": True, "observed": observation.state()},
            )
        return int(done)
    reason = "interrupted after the AWS call may have gone out; AWS does not show the effect"
    if item.error.startswith("unsettled"):
        reason = f"{item.error}; AWS does not show the effect"
    return int(
        settle_item(
            item,
            ItemStatus.NEEDS_REVIEW,
            AuditVerb.ITEM_NEEDS_REVIEW,
            error=f"{reason}: check the image in AWS (not retried: at most once)",
            extra={"now": observation.state()},
        )
    )


def _reconcile_by_repeating(
    item: RequestItem, request: LifecycleRequest, sessions: Sessions
) -> int:
    """Finish an item whose calls carry idempotency tokens by repeating them: what was done
    answers the same (a copy made answers its ImageId) and is not done twice."""
    try:
        answer = mutate(request, item, sessions, time.sleep)
    except (ClientError, ParamValidationError) as error:
        reason = f"could not be finished by repeating its calls: {describe_error(error)}"
        settle_item(item, ItemStatus.NEEDS_REVIEW, AuditVerb.ITEM_NEEDS_REVIEW, error=reason)
        return 1
    except (Unsettled, *AWS_ERRORS) as error:  # no answer: the next round tries again
        logger.warning("reconciling item %s: %s", item.pk, error)
        return 0
    confirm_item(item, request, sessions, answer | {"reconciled": True})
    return 1


def release_item(item: RequestItem) -> bool:
    """executing -> pending for an item whose lease expired before any mutation went out: it is
    safe to run again (the old holder's lease is gone, so it can no longer call AWS)."""
    with transaction.atomic():
        released = RequestItem.objects.filter(
            pk=item.pk, status=ItemStatus.EXECUTING, mutation_sent_at__isnull=True
        ).update(status=ItemStatus.PENDING, lease_token="", lease_expires_at=None)
        if released:
            _event(item, AuditVerb.ITEM_RELEASED, {"status": ItemStatus.PENDING})
    return bool(released)


def resume_requests(now: datetime | None = None) -> int:
    """Queue requests approved but never started (a lost message), and executing requests with
    pending items nobody works on; finish executing requests whose items are all final.
    Returns how many were queued."""
    from lifecycle.tasks import execute_request as execute_task

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.LIFECYCLE_RECONCILE_AFTER_SECONDS)
    pks = list(
        LifecycleRequest.objects.filter(
            status=RequestStatus.APPROVED, decided_at__lt=stale
        ).values_list("pk", flat=True)
    )
    for request in LifecycleRequest.objects.filter(status=RequestStatus.EXECUTING):
        items = request.items
        if not items.exclude(status__in=FINAL_ITEM_STATES).exists():
            finish_request(request.pk)
        elif (
            items.filter(status=ItemStatus.PENDING).exists()
            and not items.filter(status=ItemStatus.EXECUTING, lease_expires_at__gt=now).exists()
        ):
            pks.append(request.pk)
    for pk in pks:
        execute_task.delay(pk)
    return len(pks)
