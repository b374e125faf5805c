"""Telling people: email to approvers when a request waits for them, to the requester on each
decision and on completion, and an optional Slack-compatible webhook (``{"text": ...}``).

Called after the transaction commits; a failing mail server or webhook is logged and never undoes
or blocks the lifecycle step itself.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from amidash.roles import RoleBackend
from lifecycle.choices import RequestStatus
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


def _mail(subject: str, body: str, recipients: list[str]) -> None:
    if not recipients:
        return
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # a broken mail server must not undo the lifecycle step
        logger.exception("could not send %r", subject)


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


def tell(subject: str, body: str, recipients: list[str], payload: dict[str, Any]) -> None:
    """Email ``recipients`` and post ``payload`` to the webhook; failures are logged only."""
    _mail(subject, body, recipients)
    post_webhook(payload)


def _notify(request: LifecycleRequest, recipients: list[str], extra: str = "") -> None:
    headline = _headline(request)
    body = f"{headline}.\n\nReason: {request.reason}\n{extra}\nOpen: {_request_path(request)}\n"
    _mail(f"[amidash] {headline}", body, recipients)
    post_webhook(
        {
            "text": f"{headline}. {_request_path(request)}",
            "request": request.pk,
            "action": request.action,
            "status": request.status,
        }
    )


def request_waiting(request_pk: int) -> None:
    """A new request waits for approvers."""
    request = LifecycleRequest.objects.select_related("requester").get(pk=request_pk)
    _notify(request, approver_emails(request), f"Approvals required: {request.approvals_required}")


def request_decided(request_pk: int) -> None:
    """The requester hears of approval, rejection or expiry."""
    request = LifecycleRequest.objects.select_related("requester").get(pk=request_pk)
    comments = "\n".join(
        f"{d.approver.get_username()} ({d.get_decision_display().lower()}): {d.comment}"
        for d in request.decisions.select_related("approver")
    )
    _notify(request, [e for e in [request.requester.email] if e], comments)


def request_finished(request_pk: int) -> None:
    """The requester hears how execution went."""
    request = LifecycleRequest.objects.select_related("requester").get(pk=request_pk)
    counts = {
        status: request.items.filter(status=status).count()
        for status in ("succeeded", "failed", "stale")
    }
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    if request.status in (
        RequestStatus.SUCCEEDED,
        RequestStatus.PARTLY_FAILED,
        RequestStatus.FAILED,
    ):
        _notify(request, [e for e in [request.requester.email] if e], f"Items: {summary}")
