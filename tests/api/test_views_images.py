"""Images through the API: the image list's filters, cursor pages, detail and the deploy gate."""

from __future__ import annotations

import datetime
import io
import json

from django.core.management import call_command
from django.utils import timezone

from tests.factories import create_account, create_image, create_image_usage


def test_it_filters_like_the_image_list(viewer, api):
    used = create_image(name="web-1.0", tags={"team": "web"})
    create_image_usage(used)
    used.in_use, used.usage_count = True, 1
    used.save()
    create_image(name="db-1.0", account=create_account("444455556666", "dev"))
    client = api(viewer)

    def names(params):
        return [r["name"] for r in client.get("/api/v1/images/", params).json()["results"]]

    assert names({"in_use": "yes"}) == ["web-1.0"]
    assert names({"account": "444455556666"}) == ["db-1.0"]
    assert names({"tag_key": "team", "tag_value": "web"}) == ["web-1.0"]
    assert names({"q": "db"}) == ["db-1.0"]


def test_it_filters_images_with_critical_findings(viewer, api):
    from inventory.choices import FindingsStatus
    from inventory.models import ImageFindings

    critical, clean = create_image(name="critical-1.0"), create_image(name="clean-1.0")
    for image, count in ((critical, 1), (clean, 0)):
        ImageFindings.objects.create(
            image=image, status=FindingsStatus.SCANNED, critical=count, checked_at=timezone.now()
        )

    answer = api(viewer).get("/api/v1/images/", {"findings": "critical"}).json()

    assert [row["name"] for row in answer["results"]] == ["critical-1.0"]


def test_it_pages_with_a_cursor_and_a_stable_count(viewer, api):
    for _ in range(30):
        create_image()
    client = api(viewer)
    first = client.get("/api/v1/images/", {"size": 25, "sort": "image_id"}).json()
    second = client.get(first["next"]).json()
    assert first["count"] == second["count"] == 30
    ids = [r["image_id"] for r in first["results"] + second["results"]]
    assert ids == sorted(ids) and len(set(ids)) == 30
    assert second["next"] is None


def test_it_answers_bad_input_with_a_problem_naming_the_field(viewer, api):
    client = api(viewer)
    for params, field in [
        ({"state": "melted"}, "state"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"size": "1000000"}, "size"),
        ({"sort": "password"}, "sort"),
        ({"min_age": "-3"}, "min_age"),
        ({"account": "12"}, "account"),
    ]:
        response = client.get("/api/v1/images/", params)
        assert response.status_code == 400, params
        assert response["Content-Type"] == "application/problem+json"
        assert field in response.json()["errors"], params


def test_its_image_count_equals_export_inventorys(viewer, api):
    for _ in range(7):
        create_image()
    create_image(gone_at=timezone.now(), state="deregistered")
    out = io.StringIO()
    call_command("export_inventory", "--format", "json", stdout=out)
    exported = json.loads(out.getvalue())
    listed = api(viewer).get("/api/v1/images/").json()
    assert listed["count"] == len(exported) == 8
    assert {r["image_id"] for r in listed["results"]} == {r["image_id"] for r in exported}


def test_the_detail_shows_usage_permissions_snapshots_and_history(viewer, api):
    image = create_image(shared_with=["999988887777"])
    create_image_usage(image, resource_id="i-0123")
    body = api(viewer).get(f"/api/v1/images/{image.image_id}/").json()
    assert body["usages"][0]["id"] == "i-0123"
    assert body["launch_permissions"]["shared_with"] == ["999988887777"]
    assert body["snapshots"][0]["snapshot_id"].startswith("snap-")
    assert isinstance(body["history"], list)


def test_the_detail_shows_ancestors_and_findings_or_that_they_are_unknown(viewer, api):
    from inventory.choices import FindingsStatus
    from inventory.models import ImageAncestry, ImageFindings

    root = create_image()
    copy = create_image(region="eu-west-1", source_image_id=root.image_id)
    ImageAncestry.objects.create(
        image=copy,
        position=1,
        ancestor_image_id=root.image_id,
        ancestor_region="us-east-1",
        observed_at=timezone.now(),
    )
    ImageFindings.objects.create(
        image=copy, status=FindingsStatus.SCANNED, critical=2, checked_at=timezone.now()
    )
    ImageFindings.objects.create(
        image=root, status=FindingsStatus.NOT_SCANNED, reason="denied", checked_at=timezone.now()
    )
    client = api(viewer)

    body = client.get(f"/api/v1/images/{copy.image_id}/").json()
    unknown = client.get(f"/api/v1/images/{root.image_id}/").json()

    assert body["ancestors"] == [{"image_id": root.image_id, "region": "us-east-1"}]
    assert body["findings"]["status"] == "scanned"
    assert body["findings"]["counts"]["critical"] == 2
    assert unknown["ancestors"] == []
    assert (unknown["findings"]["status"], unknown["findings"]["counts"]) == ("not_scanned", None)


def test_the_status_gate_allows_an_available_image_only(viewer, api):
    good = create_image()
    old = create_image(deprecation_time=timezone.now() - datetime.timedelta(days=1))
    off = create_image(state="disabled")
    client = api(viewer)
    assert client.get(f"/api/v1/images/{good.image_id}/status").json()["allowed"] is True
    deprecated = client.get(f"/api/v1/images/{old.image_id}/status").json()
    assert deprecated["allowed"] is False and deprecated["deprecated"] is True
    disabled = client.get(f"/api/v1/images/{off.image_id}/status").json()
    assert disabled["allowed"] is False and disabled["disabled"] is True
    assert client.get("/api/v1/images/ami-0000000000000dead/status").status_code == 404


def test_it_shows_consumers_in_other_accounts_and_when_usage_is_unknown(aws, viewer, api):
    from inventory.services.consumers import refresh_consumers
    from tests.amidash.sandbox.images import ec2_client, register_image
    from tests.factories import image, sync

    consumer = "777788889999"
    image_id = register_image(aws, "golden")
    ec2_client(aws).modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": consumer}]}
    )
    sync()
    client = api(viewer)
    url = f"/api/v1/images/{image_id}/"

    shared = client.get(url).json()
    listed = client.get("/api/v1/images/", {"q": image_id}).json()["results"]
    assert (shared["usage_unknown"], shared["in_use"]) == (True, False)  # nobody asked AWS yet
    assert (shared["consumers"], shared["consumers_reported_at"]) == ([], None)
    assert [row["usage_unknown"] for row in listed] == [True]

    ec2_client(aws, account_id=consumer).run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    refresh_consumers(image(image_id))
    reported = client.get(url).json()

    assert (reported["usage_unknown"], reported["in_use"]) == (False, True)
    assert reported["consumers_reported_at"] is not None
    assert [
        (row["account_id"], row["instances"], row["launch_templates"])
        for row in reported["consumers"]
    ] == [(consumer, 1, 0)]
