"""Every operation of the OpenAPI schema, fuzzed against a live server over a synced estate.

The estate is what a real sync of the sandbox stored: images registered through the EC2 API
(one used by an instance, one shared, one disabled, some tagged) in two Regions, then
``run_sync``; a lifecycle request, a policy's plan and the audit events are made from that
inventory. The sandbox stays active while the live server answers (in-process moto patches
botocore for the whole process), so an operation that reaches AWS reaches the sandbox.

Schemathesis generates a bounded number of cases per operation from the schema the API itself
serves, sends them with an admin's token that has every scope, and checks that nothing answers
5xx and that every answer has a documented status, content type and body shape. Every
operation with path parameters is also called once with the ids of the synced estate, so
detail pages of real images, runs, requests and plans are checked against the schema too.
"""

from __future__ import annotations

import datetime
import io
import json

import pytest
import requests
import schemathesis
from django.core.management import call_command
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from amidash.sandbox import sandbox
from inventory.models import Account, Image
from lifecycle.models import AuditEvent, AuditSource
from policies.services.plans import evaluate_and_save
from tests.amidash.sandbox.images import OTHER_REGION, REGION, ec2_client, launch, register_image
from tests.api.conftest import token_for
from tests.factories import ask, create_policy, create_user, sync

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 8


@pytest.fixture
def estate(transactional_db, settings) -> dict:
    """A synced sandbox estate and what was made from it; the sandbox stays active meanwhile."""
    from django.utils import timezone

    settings.SYNC_REGIONS = [REGION, OTHER_REGION]
    with sandbox() as aws:
        used = register_image(aws, "web-1.0.1", tags={"team": "web"})
        launch(aws, used)
        old = register_image(aws, "web-1.0.0", tags={"team": "web"})
        shared = register_image(aws, "base-2024.01", OTHER_REGION, tags={"team": "platform"})
        ec2_client(aws, OTHER_REGION).modify_image_attribute(
            ImageId=shared, LaunchPermission={"Add": [{"UserId": "210987654321"}]}
        )
        disabled = register_image(aws, "tools-3", OTHER_REGION)
        ec2_client(aws, OTHER_REGION).disable_image(ImageId=disabled)
        run = sync()

        admin = create_user("fuzzadmin", superuser=True)
        requester = create_user("fuzzrita", "Requester")
        soon = (timezone.now() + datetime.timedelta(days=30)).isoformat()
        request = ask(requester, "deprecate", [old], parameters={"deprecate_at": soon})
        policy = create_policy("fuzz", scope_tags={"team": "web"}, keep_newest_per_family=1)
        _plan, plan = evaluate_and_save(policy, admin, AuditSource.WEB)
        yield {
            "images": {"used": used, "old": old, "shared": shared, "disabled": disabled},
            "run": run,
            "request": request,
            "policy": policy,
            "plan": plan,
            "token": token_for(admin, "read,request,approve"),
        }


def _served_schema(base_url: str, token: str) -> schemathesis.BaseSchema:
    response = requests.get(
        f"{base_url}/api/schema/",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    return schemathesis.openapi.from_dict(response.json())


def _fuzz(operation: schemathesis.APIOperation, base_url: str, token: str) -> None:
    """Run the bounded examples of one operation; raises on the first answer off the schema."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )

    run()


def _estate_cases(operation: schemathesis.APIOperation, estate: dict) -> list[schemathesis.Case]:
    """GET cases of an operation with path parameters, naming what the synced estate holds."""
    names = {parameter.name for parameter in operation.path_parameters}
    if not names or operation.method.upper() != "GET":
        return []
    owners = {
        "sync-runs": estate["run"],
        "requests": estate["request"],
        "policies": estate["policy"],
    }
    resource = operation.path.removeprefix("/api/v1/").split("/")[0]
    known = {"plan_pk": estate["plan"].pk}
    if resource in owners:
        known["id"] = owners[resource].pk
    images = list(estate["images"].values()) if "image_id" in names else [None]
    return [
        operation.Case(
            path_parameters={name: image if name == "image_id" else known[name] for name in names}
        )
        for image in images
    ]


def test_the_api_answers_the_estate_the_sync_stored(live_server, estate):
    """The images count the API answers is the sync's, and the export's; filters find the
    images the sandbox holds by what AWS says of them."""
    run, images = estate["run"], estate["images"]
    assert run.status == "succeeded" and run.images_seen == len(images)
    assert Account.objects.count() == 1
    stored = set(Image.objects.values_list("image_id", flat=True))
    assert stored == set(images.values())
    out = io.StringIO()
    call_command("export_inventory", "--format", "json", stdout=out)
    exported = {record["image_id"] for record in json.loads(out.getvalue())}

    def listed(**params: str) -> dict:
        return requests.get(
            f"{live_server.url}/api/v1/images/",
            headers={"Authorization": f"Bearer {estate['token']}"},
            params={"size": 200, **params},
            timeout=30,
        ).json()

    def ids(**params: str) -> set[str]:
        return {record["image_id"] for record in listed(**params)["results"]}

    everything = listed()
    assert everything["count"] == len(stored) == len(exported) == 4
    assert ids() == exported == stored
    assert ids(in_use="yes") == {images["used"]}
    assert ids(exposure="shared") == {images["shared"]}
    assert ids(state="disabled") == {images["disabled"]}
    assert ids(tag_key="team", tag_value="web") == {images["used"], images["old"]}
    appeared = AuditEvent.objects.filter(verb="image.appeared", target_id__in=stored)
    assert set(appeared.values_list("target_id", flat=True)) == stored
    assert [item.ami_id for item in estate["request"].items.all()] == [images["old"]]
    planned = set(estate["plan"].entries.values_list("image_ref", flat=True))
    assert planned == {images["used"], images["old"]}


def test_every_operation_answers_as_documented(live_server, estate):
    token = estate["token"]
    schema = _served_schema(live_server.url, token)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16
    headers = {"Authorization": f"Bearer {token}"}
    checked = 0
    for operation in operations:
        for case in _estate_cases(operation, estate):
            response = case.call_and_validate(
                base_url=live_server.url, headers=headers, checks=CHECKS
            )
            assert response.status_code == 200, (case.path, case.path_parameters)
            checked += 1
        _fuzz(operation, live_server.url, token)
    assert checked >= 4 * 2 + 5  # each image's detail and status; a run, request, policy, plan
