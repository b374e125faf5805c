"""How the request pages say times stored as ISO strings."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from lifecycle.templatetags.lifecycle_tags import deprecation, json_text, utc_time


def test_it_says_an_iso_time_in_utc_to_the_minute() -> None:
    assert utc_time("2031-03-04T05:06:00Z") == "2031-03-04 05:06 UTC"
    assert utc_time("2031-03-04T07:06:00+02:00") == "2031-03-04 05:06 UTC"


def test_it_leaves_what_is_not_a_time_as_it_is() -> None:
    assert utc_time("soon") == "soon"
    assert utc_time("2031-13-45T99:00") == "2031-13-45T99:00"
    assert utc_time(None) == ""


def test_it_says_whether_a_deprecation_is_past_or_to_come() -> None:
    past = (timezone.now() - timedelta(days=3)).isoformat()
    future = (timezone.now() + timedelta(days=3)).isoformat()
    assert deprecation(past).startswith("deprecated since ")
    assert deprecation(future).startswith("deprecates ")
    assert deprecation(None) == ""


def test_it_shows_an_aws_answer_as_json() -> None:
    assert json_text({"Return": True, "confirmed": True}) == '{"Return": true, "confirmed": true}'
    assert json_text({"when": None}) == '{"when": null}'
