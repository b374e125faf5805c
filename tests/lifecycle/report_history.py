"""Three weeks of audit history (March 2025) for the report's charts, written with the times
they happened at."""

from __future__ import annotations

from datetime import UTC, datetime

from inventory.models import Image
from lifecycle.services.audit import EventDraft, Target, record_events
from lifecycle.services.report_figures import ReportScope
from tests.factories import create_account, create_image, create_lifecycle_request, create_user

#: Weeks starting Monday 3, 10 and 17 March 2025.
SCOPE = ReportScope(datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 24, tzinfo=UTC))
WEEKS = ["2025-03-03", "2025-03-10", "2025-03-17"]


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def _request(user, approver, action: str, images: list[Image], created, approved, executed):
    request = create_lifecycle_request(user, action=action)
    target = Target("request", str(request.pk), label=f"Request #{request.pk}")
    correlation = f"request:{request.pk}"
    drafts = [
        EventDraft("request.created", user, "web", target, after={"action": action},
                   correlation_id=correlation, occurred_at=created),
        EventDraft("request.approved", approver, "web", target, after={"status": "approved"},
                   correlation_id=correlation, occurred_at=approved),
    ]  # fmt: skip
    for image in images:
        done = Target("image", image.image_id, image.account.account_id, image.region)
        drafts.append(EventDraft("item.executed", None, "worker", done,
                                 correlation_id=correlation, occurred_at=executed))  # fmt: skip
    drafts.append(EventDraft("request.completed", None, "worker", target,
                             after={"status": "succeeded"}, correlation_id=correlation,
                             occurred_at=executed))  # fmt: skip
    record_events(drafts)
    return request


def _outside(image: Image, verb: str, when: datetime, state: str = "") -> None:
    target = Target("image", image.image_id, image.account.account_id, image.region)
    after = {"state": state} if state else None
    record_events([EventDraft(verb, None, "sync", target, after=after, occurred_at=when)])


def write_history() -> dict[str, list[Image]]:
    """Executed requests in the first two weeks, changes made outside amidash in the third, and
    an estate that grows, loses an image and stops using another."""
    alice, bob = create_user("alice"), create_user("bob")
    first, second = create_account("111111111111"), create_account("222222222222")

    def image(account=first, seen: datetime | None = None, **fields) -> Image:
        return create_image(account=account, first_seen_at=seen or at(1), **fields)

    old = [image(), image()]
    in_use = image(in_use=True, usage_count=1, last_seen_in_use_at=at(20))
    dropped = image(last_seen_in_use_at=at(12))  # last used in the second week
    late = image(seen=at(12))  # first seen in the second week
    gone = image(account=second, gone_at=at(15))
    other = image()
    _request(alice, bob, "deregister", old, at(3, 10), at(3, 12), at(4))
    _request(alice, bob, "disable", [late], at(10), at(11), at(11, 10))
    _request(alice, bob, "deprecate", [dropped], at(12), at(12, 9, 30), at(12, 10))
    _outside(in_use, "image.state_changed", at(18), state="disabled")
    _outside(other, "image.state_changed", at(19), state="disabled")
    _outside(gone, "image.gone", at(15))
    return {"old": old, "in_use": [in_use], "dropped": [dropped], "late": [late], "gone": [gone],
            "other": [other]}  # fmt: skip
