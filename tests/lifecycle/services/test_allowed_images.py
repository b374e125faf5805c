"""Requesting an Allowed AMIs change: refused without scope, for a setting a declarative
policy manages, for criteria AWS would refuse, for no change, and from the image pages."""

from __future__ import annotations

import pytest

from amidash.sandbox.extensions.allowed_images import set_allowed_images_setting
from amidash.sandbox.extensions.common import ec2_backend
from inventory.models import AccountRegion
from lifecycle.exceptions import RequestError
from lifecycle.models import AuditSource
from lifecycle.services.allowed_images import request_allowed_images_change
from tests.amidash.sandbox.images import REGION
from tests.factories import ask_allowed_images, sync

pytestmark = pytest.mark.django_db
ACCOUNT = "123456789012"
CRITERIA = [{"ImageProviders": ["amazon"], "ImageNames": ["al2023-*"]}]


def test_a_policy_managed_setting_is_refused_with_a_clear_message(aws, requester):
    set_allowed_images_setting(ec2_backend(ACCOUNT, REGION), "enabled", [], "declarative-policy")
    sync()

    with pytest.raises(RequestError, match="managed by a declarative policy"):
        ask_allowed_images(requester)


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"state": "on", "criteria": CRITERIA}, "Choose disabled, audit mode or enabled"),
        ({"state": "enabled", "criteria": [{"ImageProviders": ["x"]}]}, "not an image provider"),
        ({"state": "disabled", "criteria": []}, "would change nothing"),
    ],
)
def test_bad_or_empty_changes_are_refused(aws, requester, parameters, message):
    sync()

    pk = AccountRegion.objects.get(region=REGION).pk

    with pytest.raises(RequestError, match=message):
        request_allowed_images_change(requester, pk, parameters, "why", AuditSource.WEB)


def test_nobody_requests_for_an_account_outside_their_scope(aws):
    from django.core.exceptions import PermissionDenied

    from amidash.roles import Role
    from tests.factories import ask_allowed_images, create_user

    sync()
    scoped = create_user("sam", Role.REQUESTER, all_accounts=False)

    with pytest.raises((RequestError, PermissionDenied)):
        ask_allowed_images(scoped)


def test_the_generic_request_page_refuses_it(aws, requester):
    from inventory.models import Image
    from lifecycle.services.requests import RequestDraft, create_request
    from tests.amidash.sandbox.images import register_image

    register_image(aws, "app-1")
    sync()
    draft = RequestDraft("allowed_images", [Image.objects.get().pk], "why")

    with pytest.raises(RequestError, match="compliance page"):
        create_request(requester, draft, AuditSource.WEB)
