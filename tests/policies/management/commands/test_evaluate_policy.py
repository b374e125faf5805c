"""evaluate_policy: the plan as JSON, CSV or a table; exit 2 for an unknown policy."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import create_listed_image, create_policy


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("evaluate_policy", *args, stdout=out)
    return out.getvalue()


def test_it_prints_one_json_entry_per_image_in_scope():
    create_listed_image("web-1.1.0", age_days=100)
    create_listed_image("web-1.2.0", age_days=10)
    create_policy("tidy", keep_younger_than_days=30, deprecate=True)
    document = json.loads(_run("tidy", "--format", "json"))
    assert document["policy"] == "tidy" and document["evaluated_at"].endswith("Z")
    by_name = {entry["name"]: entry for entry in document["images"]}
    assert by_name["web-1.1.0"]["decision"] == "deprecate"
    assert by_name["web-1.2.0"]["reasons"] == ["younger than 30 days (10 days old)"]
    assert set(by_name["web-1.2.0"]) == {
        "image_id", "account_id", "region", "name", "family", "decision", "reasons"
    }  # fmt: skip


def test_it_prints_csv_and_a_table():
    create_listed_image("web-1.1.0")
    create_policy("tidy", deprecate=True)
    assert _run("tidy", "--format", "csv").splitlines()[0].startswith("image_id,account_id")
    assert "1 images in scope: 1 deprecate" in _run("tidy")


def test_an_unknown_policy_is_a_usage_error():
    with pytest.raises(CommandError, match="No policy named 'nope'") as raised:
        _run("nope")
    assert raised.value.returncode == 2
