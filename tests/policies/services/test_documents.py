"""Policies as code: export and import round trip; a bad file changes nothing, line by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lifecycle.models import AuditEvent
from policies.models import Policy

GOOD = """\
policies:
  - name: tidy-web              # unique
    description: keep the last two builds of each web family
    enabled: false
    scope: {accounts: ["123456789012"], regions: ["eu-west-1"], families: ["web*"],
            names: ["web-*"], tags: {env: prod}}
    keep: {newest_per_family: 2, younger_than_days: 90, launched_within_days: 30,
           tags: {keep: "true"}, public: true, shared: true, newest_per_lineage: true}
    stages: {deprecate: true, disable_after_days: 30, deregister_after_days: 30,
             delete_snapshots: false}
    limits: {max_images_per_run: 500, max_share_of_family: 0.5}
    notice_days: 5
    owner_tag: owner
"""

BAD = """\
policies:
  - name: tidy-web
    scope:
      accounts: ["12345"]
    keep: {newest_per_family: -1, younger: 3}
    stages: {deprecate: maybe}
    notice_days: 3
  - name: Not A Name
"""


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    return str(path)


def test_it_round_trips_every_policy(tmp_path, requester):
    call_command("policies", "import", _write(tmp_path, GOOD), "--user", requester.username)
    policy = Policy.objects.get(name="tidy-web")
    assert policy.scope_families == ["web*"] and policy.keep_tags == {"keep": "true"}
    assert policy.max_share_of_family == 0.5 and policy.updated_by == requester
    assert policy.keep_newest_per_lineage
    exported = tmp_path / "out.yaml"
    call_command("policies", "export", str(exported))
    before = policy.document()
    Policy.objects.all().delete()
    call_command("policies", "import", str(exported))
    assert Policy.objects.get(name="tidy-web").document() == before


def test_an_import_of_a_known_name_changes_it_and_records_before_and_after(tmp_path, requester):
    path = _write(tmp_path, GOOD)
    call_command("policies", "import", path, "--user", requester.username)
    call_command("policies", "import", _write(tmp_path, GOOD.replace("500", "50")))
    assert Policy.objects.get().max_images_per_run == 50
    policy = Policy.objects.get()
    event = AuditEvent.objects.get(
        verb="policy.changed", target_id=str(policy.pk), occurred_at__gte=policy.created_at
    )
    assert event.before["limits"]["max_images_per_run"] == 500
    assert event.after["limits"]["max_images_per_run"] == 50


def test_a_bad_file_changes_nothing_and_names_each_problem_by_line(tmp_path):
    with pytest.raises(CommandError) as raised:
        call_command("policies", "import", _write(tmp_path, BAD))
    message = str(raised.value)
    assert raised.value.returncode == 2
    assert "line 4: policy 'tidy-web': scope.accounts: Not a valid 12-digit account id: 12345" in (
        message
    )
    assert "line 5: unknown key 'younger' in 'keep'" in message
    assert "line 5: policy 'tidy-web': keep.newest_per_family:" in message
    assert "line 6: policy 'tidy-web': stages.deprecate:" in message
    assert "line 7: policy 'tidy-web': notice_days: A notice period needs owner_tag" in message
    assert "line 8: policy 'Not A Name': name: Use 1 to 100 lower-case" in message
    assert not Policy.objects.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("policies: [\n  {name: a\n", "not valid YAML"),
        ("- name: a\n", "line 1: the file must be a mapping with a 'policies' list"),
        ("policies:\n  name: a\n", "line 2: 'policies' must be a list"),
        ("policies:\n  - name: a\n    scope: [1]\n", "line 3: 'scope' must be a mapping"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused(tmp_path, text, expected):
    with pytest.raises(CommandError, match=expected):
        call_command("policies", "import", _write(tmp_path, text))
    assert not Policy.objects.exists()


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read") as raised:
        call_command("policies", "import", str(tmp_path / "nope.yaml"))
    assert raised.value.returncode == 2


def test_it_refuses_a_lineage_rule_that_is_not_a_boolean(tmp_path):
    text = "policies:\n  - name: tidy\n    keep: {newest_per_lineage: 2}\n"
    with pytest.raises(
        CommandError, match=r"line 3: 'keep\.newest_per_lineage' must be true/false"
    ):
        call_command("policies", "import", _write(tmp_path, text))
    assert not Policy.objects.exists()
