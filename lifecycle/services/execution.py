"""Carrying out approved requests: the only code that changes AWS.

For each item (invariants 3, 4 and 5 in docs/architecture.md):

1. claim it with a conditional UPDATE (pending -> executing) committed before any AWS call, so a
   redelivered task or a second worker never acts on it again;
2. re-read the image and what uses it from AWS; if anything drifted from what was approved
   (state, gone, deprecation, exposure, newly in use) mark it stale and do nothing;
3. wait for a token of the account+Region's mutation bucket, then call AWS once. The mutating
   client makes no retries of its own: only an answer that says the call was not carried out
   (throttling) is retried here; a timeout or a dropped connection leaves the item executing;
4. re-read to confirm, update the inventory, record AWS's answer and an audit event.

A worker killed mid-item leaves the item executing; ``reconcile_items`` settles such items by
reading AWS (done if the effect is there, failed otherwise), never by calling the mutation again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from inventory import signals as inventory_signals
from inventory.choices import ImageState
from inventory.models import AccountRegion, Image
from inventory.services.aws import AWS_ERRORS, AwsSession, client_config, describe_error
from inventory.services.listing import (
    fingerprint,
    list_image_usage,
    parse_time,
)
from inventory.services.sync import advisory_lock
from inventory.services.upsert import image_fields, upsert_images
from lifecycle.choices import (
    FINAL_ITEM_STATES,
    GUARDED_ACTIONS,
    ItemStatus,
    LifecycleAction,
    RequestStatus,
)
from lifecycle.models import AuditSource, AuditVerb, LifecycleRequest, RequestItem
from lifecycle.services import notifications, pacing
from lifecycle.services.audit import record_event
from lifecycle.services.requests import request_fingerprint

logger = logging.getLogger(__name__)
THROTTLING_CODES = {"RequestLimitExceeded", "Throttling", "ThrottlingException"}
#: The EC2 API each action calls (the pacing bucket it draws from).
ACTION_API = {
    LifecycleAction.DEPRECATE: "EnableImageDeprecation",
    LifecycleAction.CANCEL_DEPRECATION: "DisableImageDeprecation",
    LifecycleAction.DISABLE: "DisableImage",
    LifecycleAction.ENABLE: "EnableImage",
    LifecycleAction.DEREGISTER: "DeregisterImage",
    LifecycleAction.RESTORE: "RestoreImageFromRecycleBin",
    LifecycleAction.COPY: "CopyImage",
}


class Unsettled(Exception):
    """AWS may or may not have carried out the mutation (timeout, dropped connection)."""


class MutationSession(AwsSession):
    """Clients for mutations: botocore makes no retries, so a call goes out at most once."""

    def __init__(self, account: Any = None, actor_name: str | None = None) -> None:
        super().__init__(account, actor_name)
        self._config = client_config().merge(
            Config(retries={"mode": "standard", "total_max_attempts": 1})
        )


@dataclass
class Observation:
    """The image as AWS shows it now (``data`` None when DescribeImages does not list it)."""

    data: dict[str, Any] | None
    usage: set[str] = field(default_factory=set)
    in_recycle_bin: bool = False

    def state(self) -> dict[str, Any]:
        if self.data is None:
            return {"state": ImageState.DEREGISTERED, "gone": True}
        deprecation = parse_time(self.data.get("DeprecationTime"))
        return {
            "state": self.data.get("State"),
            "gone": False,
            "deprecation_time": deprecation.isoformat() if deprecation else None,
            "public": bool(self.data.get("Public")),
        }


@dataclass
class Sessions:
    """One reading and one mutating session per account, for the whole request."""

    actor_name: str
    reading: dict[str, AwsSession] = field(default_factory=dict)
    mutating: dict[str, MutationSession] = field(default_factory=dict)

    def read(self, image: Image) -> AwsSession:
        key = image.account.account_id
        if key not in self.reading:
            self.reading[key] = AwsSession(image.account, self.actor_name)
        return self.reading[key]

    def mutate(self, image: Image) -> MutationSession:
        key = image.account.account_id
        if key not in self.mutating:
            self.mutating[key] = MutationSession(image.account, self.actor_name)
        return self.mutating[key]


# --- reading ----------------------------------------------------------------------------------


def usage_key(usage_type: str, resource_id: str) -> str:
    """Usage compared by kind and resource (a template's version does not matter)."""
    return f"{usage_type}:{resource_id.split(':')[0]}"


def observe_image(session: AwsSession, region: str, image_id: str) -> Observation:
    """Re-read one image, whether it is in the Recycle Bin, and what uses it, from AWS."""
    ec2 = session.client("ec2", region)
    images = ec2.describe_images(
        ImageIds=[image_id], IncludeDeprecated=True, IncludeDisabled=True
    ).get("Images", [])
    data = next((i for i in images if i.get("ImageId") == image_id), None)
    if data is None:
        binned = ec2.list_images_in_recycle_bin(ImageIds=[image_id]).get("Images", [])
        return Observation(None, set(), any(i.get("ImageId") == image_id for i in binned))
    return Observation(data, read_usage(session, region, image_id))


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
            return Observation(None)
        raise


def drift_of(item: RequestItem, request: LifecycleRequest, now: Observation) -> str:
    """Why the image no longer is what was approved, or "" when it still is."""
    approved = item.observed
    if request.action == LifecycleAction.RESTORE:
        if now.data is not None:
            return "the image exists again: nothing to restore"
        return "" if now.in_recycle_bin else "the image is not in the Recycle Bin any more"
    if now.data is None:
        return "the image is gone"
    current = now.state()
    for key, label in (("state", "state"), ("deprecation_time", "deprecation time")):
        if _minute(current.get(key)) != _minute(approved.get(key)):
            return f"{label} changed from {approved.get(key)} to {current.get(key)}"
    if current["public"] != approved.get("public"):
        return "public exposure changed"
    approved_usage = {usage_key(*u.split(":", 1)) for u in approved.get("usage", [])}
    new_users = sorted(now.usage - approved_usage)
    if new_users:
        return f"newly in use by {', '.join(new_users[:5])}"
    if request.action in GUARDED_ACTIONS and now.usage and not request.override_in_use:
        return "in use, and the request carries no override"
    return ""


def _minute(value: Any) -> Any:
    """Times compared to the minute (AWS rounds deprecation times to it)."""
    if isinstance(value, str) and "T" in value:
        moment = parse_time(value)
        return moment.replace(second=0, microsecond=0) if moment else value
    return value


# --- mutating ---------------------------------------------------------------------------------


def call_once(call: Callable[[], dict[str, Any]], sleep: Callable[[float], None]) -> dict:
    """Make one mutation, retrying only answers that say it was not carried out (throttling)."""
    for attempt in range(settings.LIFECYCLE_THROTTLE_RETRIES + 1):
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
    """Call AWS for one item under the account+Region's pacing; returns what AWS answered."""
    image, action, params = item.image, request.action, request.parameters
    api = ACTION_API[LifecycleAction(action)]
    ec2 = sessions.mutate(image).client("ec2", item.region)
    if action == LifecycleAction.COPY:
        return _copy(request, item, sessions, sleep)
    calls: dict[str, Callable[[], dict[str, Any]]] = {
        LifecycleAction.DEPRECATE: lambda: ec2.enable_image_deprecation(
            ImageId=item.ami_id, DeprecateAt=parse_time(params["deprecate_at"])
        ),
        LifecycleAction.CANCEL_DEPRECATION: lambda: ec2.disable_image_deprecation(
            ImageId=item.ami_id
        ),
        LifecycleAction.DISABLE: lambda: ec2.disable_image(ImageId=item.ami_id),
        LifecycleAction.ENABLE: lambda: ec2.enable_image(ImageId=item.ami_id),
        LifecycleAction.DEREGISTER: lambda: ec2.deregister_image(
            ImageId=item.ami_id, DeleteAssociatedSnapshots=bool(params.get("delete_snapshots"))
        ),
        LifecycleAction.RESTORE: lambda: ec2.restore_image_from_recycle_bin(ImageId=item.ami_id),
    }
    pacing.acquire(item.account_id, item.region, api, sleep=sleep)
    return call_once(calls[action], sleep)


def _copy(
    request: LifecycleRequest,
    item: RequestItem,
    sessions: Sessions,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """CopyImage into each target Region (the client's Region is the destination)."""
    copies: dict[str, str] = {}
    session = sessions.mutate(item.image)
    for region in request.parameters["regions"]:
        pacing.acquire(item.account_id, region, "CopyImage", sleep=sleep)
        answer = call_once(
            lambda region=region: session.client("ec2", region).copy_image(
                SourceImageId=item.ami_id,
                SourceRegion=item.region,
                Name=item.image.name or item.ami_id,
                Description=f"Copy of {item.ami_id} from {item.region} (request #{request.pk})",
            ),
            sleep,
        )
        copies[region] = answer["ImageId"]
    return {"Copies": copies}


def effect_visible(action: str, observation: Observation, params: dict[str, Any]) -> bool:
    """Does AWS show that the action took effect?"""
    state = observation.state()
    if action == LifecycleAction.DEPRECATE:
        return _minute(state.get("deprecation_time")) == _minute(params["deprecate_at"])
    if action == LifecycleAction.CANCEL_DEPRECATION:
        return not state["gone"] and state.get("deprecation_time") is None
    if action == LifecycleAction.DISABLE:
        return state["state"] == ImageState.DISABLED
    if action == LifecycleAction.ENABLE:
        return state["state"] == ImageState.AVAILABLE
    if action == LifecycleAction.DEREGISTER:
        return state["gone"]
    if action == LifecycleAction.RESTORE:
        return not state["gone"]
    return True  # copies are confirmed by their new ids


# --- the inventory ----------------------------------------------------------------------------


def store_observation(image: Image, observation: Observation, action: str) -> None:
    """Write what AWS now shows into the inventory and announce it like a sync would."""
    before = image.observed() if image.gone_at is None else None
    now = timezone.now()
    if observation.data is None:
        image.state, image.gone_at = ImageState.DEREGISTERED, image.gone_at or now
        image.save(update_fields=["state", "gone_at"])
    else:
        for name, value in image_fields(observation.data).items():
            setattr(image, name, value)
        image.gone_at, image.last_seen_at = None, now
        image.fingerprint = fingerprint(observation.data)
        if action == LifecycleAction.DISABLE:
            image.shared_with = []  # DisableImage removes every launch permission
        image.save()
    _announce(image, before)


def _announce(image: Image, before: dict[str, Any] | None) -> None:
    common = {"sync_run": None, "actor": None, "source": "worker"}
    after = image.observed()
    if image.gone_at is not None and before is not None:
        inventory_signals.image_gone.send(Image, image=image, before=before, after=after, **common)
        return
    for signal in inventory_signals.changes(before, after):
        signal.send(Image, image=image, before=before, after=after, **common)


def store_copies(item: RequestItem, copies: dict[str, str], sessions: Sessions) -> None:
    """Add the copies to the inventory where their Region is inventoried."""
    session = sessions.read(item.image)
    for region, image_id in copies.items():
        account_region = AccountRegion.objects.filter(
            account=item.image.account, region=region
        ).first()
        if account_region is None:
            continue
        observation = observe_or_gone(session, region, image_id)
        if observation.data is None:
            continue
        # Not while a sync of that Region writes its listing (it adds the copy, or the next
        # one does): the sync copies the images it found new straight into the table.
        with advisory_lock("inventory-sync", account_region.account.account_id, region) as free:
            if free:
                upsert_images(account_region, [observation.data], timezone.now())


# --- items ------------------------------------------------------------------------------------


def claim_item(item_pk: int) -> bool:
    """pending -> executing, committed at once; False when somebody else has it."""
    return (
        RequestItem.objects.filter(pk=item_pk, status=ItemStatus.PENDING).update(
            status=ItemStatus.EXECUTING, claimed_at=timezone.now(), attempts=F("attempts") + 1
        )
        == 1
    )


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
        changed = RequestItem.objects.filter(pk=item.pk, status=ItemStatus.EXECUTING).update(
            status=status, finished_at=timezone.now(), response=response, error=error[:4000]
        )
        if changed:
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
    reader = sessions.read(item.image)
    try:
        before = observe_or_gone(reader, item.region, item.ami_id)
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
    try:
        after = observe_or_gone(sessions.read(item.image), item.region, item.ami_id)
    except AWS_ERRORS as error:
        after = None
        answer = answer | {"confirmation": f"re-read failed: {describe_error(error)}"}
    with transaction.atomic():
        if after is not None:
            store_observation(item.image, after, request.action)
        if request.action == LifecycleAction.COPY:
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
    sessions = Sessions(actor_name=f"request-{request.pk}")
    pending = request.items.filter(status=ItemStatus.PENDING).order_by("pk")
    if group is not None:
        pending = pending.filter(account_id=group[0], region=group[1])
    for item in pending.select_related("image__account").iterator(chunk_size=200):
        if claim_item(item.pk):
            item.attempts += 1
            execute_item(item, request, sessions, sleep)
    return finish_request(request.pk)


def _fail_pending(request: LifecycleRequest, reason: str) -> None:
    for item in request.items.filter(status=ItemStatus.PENDING):
        if claim_item(item.pk):
            settle_item(item, ItemStatus.FAILED, AuditVerb.ITEM_FAILED, error=reason)


def finish_request(request_pk: int) -> LifecycleRequest | None:
    """executing -> succeeded / partly_failed / failed once every item is settled."""
    with transaction.atomic():
        request = LifecycleRequest.objects.select_for_update().filter(pk=request_pk).first()
        if request is None or request.status != RequestStatus.EXECUTING:
            return request
        statuses = list(request.items.values_list("status", flat=True))
        if any(status not in FINAL_ITEM_STATES for status in statuses):
            return request
        succeeded = statuses.count(ItemStatus.SUCCEEDED)
        if succeeded == len(statuses):
            outcome = RequestStatus.SUCCEEDED
        elif succeeded:
            outcome = RequestStatus.PARTLY_FAILED
        else:
            outcome = RequestStatus.FAILED
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


def reconcile_items(older_than: timedelta | None = None, now: datetime | None = None) -> int:
    """Settle items left executing (a worker died, a call timed out) by reading AWS.

    The mutation is never called again: if AWS shows its effect the item succeeded, otherwise it
    failed. Only items claimed longer ago than ``older_than`` are touched, so a live worker's
    item is left alone. Returns how many items were settled.
    """
    older_than = older_than or timedelta(seconds=settings.LIFECYCLE_RECONCILE_AFTER_SECONDS)
    # Never earlier than a call in flight could still be answered.
    in_flight = settings.AWS_CONNECT_TIMEOUT + settings.AWS_READ_TIMEOUT
    older_than = max(older_than, timedelta(seconds=in_flight))
    cutoff = (now or timezone.now()) - older_than
    stuck = RequestItem.objects.filter(
        status=ItemStatus.EXECUTING, claimed_at__lt=cutoff
    ).select_related("request", "image__account")
    settled = 0
    sessions = Sessions(actor_name="reconciler")
    for item in stuck:
        settled += _reconcile(item, sessions)
        finish_request(item.request_id)
    return settled


def _reconcile(item: RequestItem, sessions: Sessions) -> int:
    request = item.request
    try:
        observation = observe_or_gone(sessions.read(item.image), item.region, item.ami_id)
    except AWS_ERRORS as error:
        logger.warning("reconciling item %s: %s", item.pk, describe_error(error))
        return 0
    if request.action != LifecycleAction.COPY and effect_visible(
        request.action, observation, request.parameters
    ):
        with transaction.atomic():
            store_observation(item.image, observation, request.action)
            done = settle_item(
                item,
                ItemStatus.SUCCEEDED,
                AuditVerb.ITEM_EXECUTED,
                response={"reconciled": True, "observed": observation.state()},
            )
        return int(done)
    reason = "interrupted before AWS confirmed it; not retried (at most once)"
    if item.error.startswith("unsettled"):
        reason = f"{item.error}; AWS does not show the effect; not retried (at most once)"
    return int(settle_item(item, ItemStatus.FAILED, AuditVerb.ITEM_FAILED, error=reason))


def resume_requests() -> int:
    """Queue requests approved but never started (a lost message); returns how many."""
    from lifecycle.tasks import execute_request as execute_task

    stale = timezone.now() - timedelta(seconds=settings.LIFECYCLE_RECONCILE_AFTER_SECONDS)
    pks = list(
        LifecycleRequest.objects.filter(
            status=RequestStatus.APPROVED, decided_at__lt=stale
        ).values_list("pk", flat=True)
    )
    for pk in pks:
        execute_task.delay(pk)
    return len(pks)
