"""The compliance page: Allowed AMIs per Region, instances on disallowed images, the simulator
(htmx partial; bad criteria are named with a 400) and proposing a change (four eyes)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from amidash.roles import Role
from amidash.sandbox.extensions.allowed_images import set_allowed_images_setting
from amidash.sandbox.extensions.common import ec2_backend
from inventory.models import AccountRegion
from lifecycle.models import LifecycleRequest
from tests.amidash.sandbox.images import REGION, public_image
from tests.factories import create_user, signed_in, sync

pytestmark = pytest.mark.django_db
ACCOUNT = "123456789012"
URL = "/compliance/"


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def estate(aws):
    golden, other = public_image(aws, "golden-1"), public_image(aws, "random-1")
    ec2 = aws.client("ec2")
    for image_id in (golden, other):
        ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    ec2.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageNames": ["golden-*"]}]
    )
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    sync()
    pk = AccountRegion.objects.get(region=REGION).pk
    return {"golden": golden, "other": other, "pk": pk}


def test_it_shows_regions_and_instances_on_disallowed_images(estate, viewer):
    response = signed_in(viewer).get(URL)

    assert response.status_code == 200
    body = text(response)
    assert f"({ACCOUNT}) · {REGION} Audit mode Account 1. names golden-*" in body
    assert estate["other"] in body and estate["golden"] not in body


def test_it_needs_sign_in(client):
    response = client.get(URL)

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_user_without_scope_sees_no_region(estate):
    nobody = create_user("nora", Role.VIEWER, all_accounts=False)

    body = text(signed_in(nobody).get(URL))

    assert "No Allowed AMIs settings have been read yet" in body
    assert estate["other"] not in body


def test_the_simulator_answers_htmx_with_its_partial(estate, requester):
    query = {"simulate": "1", "region": estate["pk"], "c1_names": "random-*"}

    response = signed_in(requester).get(URL, query, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    body = text(response)
    assert "<html" not in response.content.decode()
    assert "1 image and 1 instance would be disallowed (1 image newly" in body
    assert estate["golden"] in body and "newly disallowed" in body
    assert 'id="propose"' in response.content.decode()


@pytest.mark.parametrize(
    "query, message",
    [
        ({"c1_providers": "somebody"}, "&#x27;somebody&#x27; is not an image provider"),
        ({"c1_names": "a?"}, "is not a valid name pattern"),
        ({"c1_created": "soon"}, "Enter a whole number"),
        ({"c1_providers": "none, amazon"}, "cannot be combined"),
        ({"region": "999999"}, "Choose an account and Region you may see"),
    ],
)
def test_bad_criteria_are_named_with_a_400(estate, viewer, query, message):
    response = signed_in(viewer).get(URL, {"simulate": "1", **query})

    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_viewer_is_not_offered_a_proposal(estate, viewer):
    query = {"simulate": "1", "region": estate["pk"], "c1_names": "random-*"}

    response = signed_in(viewer).get(URL, query, HTTP_HX_REQUEST="true")

    assert 'id="propose"' not in response.content.decode()


def test_a_policy_managed_region_says_it_cannot_be_changed(aws, requester):
    set_allowed_images_setting(ec2_backend(ACCOUNT, REGION), "enabled", [], "declarative-policy")
    sync()
    pk = AccountRegion.objects.get(region=REGION).pk

    response = signed_in(requester).get(URL, {"simulate": "1", "region": pk, "c1_names": "x*"})

    assert "managed by a declarative policy" in text(response)
    assert 'id="propose"' not in response.content.decode()
    posted = signed_in(requester).post(
        reverse("lifecycle:allowed_images_request"),
        {"region": pk, "state": "audit-mode", "c1_names": "x*", "reason": "try"},
    )
    assert posted.status_code == 400 and "managed by a declarative policy" in text(posted)


def test_a_requester_proposes_a_change_that_waits_for_approval(estate, requester):
    data = {"region": estate["pk"], "state": "enabled", "c1_names": "golden-*", "reason": "go"}

    response = signed_in(requester).post(reverse("lifecycle:allowed_images_request"), data)

    created = LifecycleRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("lifecycle:request_detail", args=[created.pk])
    assert (created.action, created.status) == ("allowed_images", "pending")
    assert created.parameters == {"state": "enabled", "criteria": [{"ImageNames": ["golden-*"]}]}
    page = text(signed_in(requester).get(response["Location"]))
    assert "Change Allowed AMIs" in page and "names golden-*" in page
    # It names one account+Region's setting, not an image.
    assert "1 setting · requested by" in page and " Settings " in page
    assert "1 image" not in page


def test_a_viewer_may_not_propose(estate, viewer):
    data = {"region": estate["pk"], "state": "enabled", "c1_names": "golden-*", "reason": "go"}

    response = signed_in(viewer).post(reverse("lifecycle:allowed_images_request"), data)

    assert response.status_code == 403
    assert not LifecycleRequest.objects.exists()


def test_a_bad_proposal_is_named_with_a_400(estate, requester):
    data = {"region": estate["pk"], "state": "sideways", "c1_names": "golden-*", "reason": ""}

    response = signed_in(requester).post(reverse("lifecycle:allowed_images_request"), data)

    assert response.status_code == 400
    assert "State: Choose one of the listed values." in text(response)
    assert not LifecycleRequest.objects.exists()
