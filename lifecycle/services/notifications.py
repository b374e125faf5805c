"""Telling people: email to approvers when a request waits for them, to the requester on each
decision and on completion (and to approvers too when items failed or need review), and an
optional Slack-compatible webhook (``{"text": ...}``).

Notices are Celery tasks (``lifecycle.tasks.send_notification``, queue ``background``) queued when
the transaction commits: a stalled mail server or webhook never holds a web request, an error
there never shows the user a 500 for a step that did happen (so nobody submits twice), and each
channel is retried on its own with bounded timeouts (``EMAIL_TIMEOUT``,
``WEBHOOK_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from amidash.roles import RoleBackend
from lifecycle.choices import ItemStatus, RequestStatus
from lifecycle.models import LifecycleRequest

logger = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_SECONDS = 5


def _request_path(request: LifecycleRequest) -> str:
    return reverse("lifecycle:request_detail", args=[request.pk])


def _headline(request: LifecycleRequest) -> str:
    count = request.items.count()
    return (
        f"Request #{request.pk}: {request.get_action_display()} of {count} image(s) "
        f"by {request.requester.get_username()} is {request.get_status_display().lower()}"
    )


def approver_emails(request: LifecycleRequest) -> list[str]:
    """Emails of active approvers (by role, and superusers) but the requester."""
    users = (
        RoleBackend()
        .with_perm("lifecycle.approve_request")
        .exclude(pk=request.requester_id)
        .exclude(email="")
        .distinct()
    )
    return sorted(users.values_list("email", flat=True))


def decider_emails(request: LifecycleRequest) -> list[str]:
    """Emails of the people who approved the request."""
    emails = request.decisions.exclude(approver__email="").values_list("approver__email", flat=True)
    return sorted(set(emails))


def post_webhook(payload: dict[str, Any], url: str | None = None) -> bool:
    """POST JSON to the configured webhook; True when it answered 2xx."""
    url = url or settings.LIFECYCLE_WEBHOOK_URL
    if not url:
        return False
    data = json.dumps(payload).encode()
    message = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(message, timeout=WEBHOOK_TIMEOUT_SECONDS) as answer:
            return 200 <= answer.status < 300
    except Exception:  # an unreachable chat must not undo the lifecycle step
        logger.exception("webhook %s failed", url)
        return False


#: What a notice is about; the value is the task's argument.
WAITING, DECIDED, FINISHED, NEEDS_REVIEW = "waiting", "decided", "finished", "needs_review"
CHANNELS = ("email", "webhook")
FAILED_ITEM_STATES = (ItemStatus.FAILED, ItemStatus.STALE, ItemStatus.NEEDS_REVIEW)


@dataclass(frozen=True)
class Notice:
    """One message about a request: mail subject, body and recipients, and the webhook's JSON."""

    subject: str
    body: str
    recipients: list[str]
    payload: dict[str, Any] = field(default_factory=dict)


def queue_notice(kind: str, request_pk: int) -> None:
    """Queue one task per channel when the transaction commits; never fails the caller."""
    transaction.on_commit(lambda: _queue(kind, request_pk))


def _queue(kind: str, request_pk: int) -> None:
    from lifecycle.tasks import send_notification

    for channel in CHANNELS:
        try:
            send_notification.delay(kind, request_pk, channel)
        except Exception:  # an unreachable broker loses the notice, not the committed step
            logger.exception(
                "could not queue the %s %s notice of request %s", channel, kind, request_pk
            )


def deliver(kind: str, request_pk: int, channel: str) -> bool:
    """Send one notice on one channel; raises when the mail server or webhook failed (so the task
    retries). False when there is nothing to send."""
    notice = compose(kind, request_pk)
    if notice is None:
        return False
    if channel == "email":
        if not notice.recipients:
            return False
        send_mail(notice.subject, notice.body, settings.DEFAULT_FROM_EMAIL, notice.recipients)
        return True
    if not settings.LIFECYCLE_WEBHOOK_URL:
        return False
    if not post_webhook(notice.payload):
        raise ConnectionError(f"the webhook did not take the {kind} notice of #{request_pk}")
    return True


def compose(kind: str, request_pk: int) -> Notice | None:
    """The notice of ``kind`` for a request, or None when there is nobody to tell."""
    request = LifecycleRequest.objects.select_related("requester").filter(pk=request_pk).first()
    if request is None:
        return None
    requester = [e for e in [request.requester.email] if e]
    if kind == WAITING:
        extra = f"Approvals required: {request.approvals_required}"
        return _notice(request, approver_emails(request), extra)
    if kind == DECIDED:
        return _notice(request, requester, _decisions(request))
    if kind in (FINISHED, NEEDS_REVIEW):
        return _finished(request, requester)
    raise ValueError(f"unknown notice {kind!r}")


def _mail(subject: str, body: str, recipients: list[str]) -> None:
    if not recipients:
        return
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # a broken mail server must not undo the step that sends it
        logger.exception("could not send %r", subject)


def tell(subject: str, body: str, recipients: list[str], payload: dict[str, Any]) -> None:
    """Email ``recipients`` and post ``payload`` to the webhook now; failures are logged only
    (for callers already in a task of their own)."""
    _mail(subject, body, recipients)
    post_webhook(payload)


def _notice(request: LifecycleRequest, recipients: list[str], extra: str = "") -> Notice:
    headline = _headline(request)
    body = f"{headline}.\n\nReason: {request.reason}\n{extra}\nOpen: {_request_path(request)}\n"
    payload = {
        "text": f"{headline}. {_request_path(request)}",
        "request": request.pk,
        "action": request.action,
        "status": request.status,
    }
    return Notice(f"[amidash] {headline}", body, recipients, payload)


def _decisions(request: LifecycleRequest) -> str:
    return "\n".join(
        f"{d.approver.get_username()} ({d.get_decision_display().lower()}): {d.comment}"
        for d in request.decisions.select_related("approver")
    )


def _finished(request: LifecycleRequest, requester: list[str]) -> Notice | None:
    """How execution went: to the requester, and to approvers too when something went wrong."""
    if request.status not in (
        RequestStatus.SUCCEEDED,
        RequestStatus.PARTLY_FAILED,
        RequestStatus.FAILED,
        RequestStatus.NEEDS_REVIEW,
    ):
        return None
    counts = {
        status: request.items.filter(status=status).count()
        for status in ("succeeded", *FAILED_ITEM_STATES)
    }
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items() if n)
    recipients = requester
    if request.status != RequestStatus.SUCCEEDED:
        recipients = sorted({*requester, *decider_emails(request)})
    return _notice(request, recipients, f"Items: {summary}")
