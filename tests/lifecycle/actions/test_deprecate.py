"""The deprecate spec: offered for an image without a deprecation time, checks the time against
EnableImageDeprecation's limits (UTC, rounded to the minute, future, at most 10 years ahead)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inventory.choices import ImageState
from lifecycle.actions import ACTIONS
from lifecycle.exceptions import RequestError
from tests.amidash.sandbox.images import register_image
from tests.factories import ask, sync
from tests.lifecycle.actions.conftest import perform, shown, unsaved_image

SPEC = ACTIONS["deprecate"]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_it_applies_only_to_an_image_without_a_deprecation_time() -> None:
    assert SPEC.applies_to(unsaved_image())
    assert not SPEC.applies_to(unsaved_image(deprecated=True))
    assert not SPEC.applies_to(unsaved_image(state=ImageState.DISABLED))
    assert not SPEC.applies_to(unsaved_image(gone=True))
    assert SPEC.refusal(unsaved_image(gone=True)) == "the image is gone (deregistered)"


def test_it_rounds_the_time_to_the_minute_in_utc() -> None:
    cleaned = SPEC.clean_parameters({"deprecate_at": "2026-04-01T10:00:31+02:00"}, NOW)
    assert cleaned == {"deprecate_at": "2026-04-01T08:01:00Z"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "needs the date and time"),
        ("not a time", "not a valid date and time"),
        (NOW - timedelta(minutes=5), "must be in the future"),
        (NOW + timedelta(days=365 * 10 + 3), "at most 10 years ahead"),
    ],
)
def test_it_refuses_a_time_aws_would_refuse(value, message) -> None:
    with pytest.raises(RequestError, match=message) as refused:
        SPEC.clean_parameters({"deprecate_at": value}, NOW)
    assert refused.value.field == "deprecate_at"


def test_it_is_not_guarded_and_shows_only_its_time() -> None:
    assert not SPEC.guarded
    assert SPEC.shown_fields() == ("deprecate_at",)


def test_it_sets_the_deprecation_time_in_aws(aws, requester) -> None:
    image_id = register_image(aws, "old-build")
    sync()
    when = (datetime.now(UTC) + timedelta(days=30)).replace(second=0, microsecond=0)
    request = ask(requester, "deprecate", [image_id], parameters={"deprecate_at": when})
    assert not shown("deprecate", image_id)
    perform(aws, request)
    assert shown("deprecate", image_id)
    assert len(aws.calls(action="EnableImageDeprecation")) == 1
