"""Every page passes axe-core's WCAG 2 A and AA rules for every role, and a request can be made
and approved with the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amidash.celery import app
from amidash.roles import Role
from amidash.sandbox import sandbox
from api.services import create_token
from inventory.models import Image, SyncRun
from inventory.services.sync import run_sync
from lifecycle.models import Approval, LifecycleRequest
from tests.amidash.sandbox.images import register_image
from tests.e2e.browser import sign_in
from tests.factories import PASSWORD, ask, create_policy, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE_URL = "/static/vendor/axe-core/axe.min.js"  # static/vendor/axe-core, as the site serves it
WCAG_2_A_AA = ["wcag2a", "wcag2aa"]
PERSONAS = {
    "viola": Role.VIEWER,
    "rita": Role.REQUESTER,
    "arno": Role.APPROVER,
    "audrey": Role.AUDITOR,
}


@pytest.fixture
def estate(settings) -> Iterator[dict]:
    """A synced Region with a few images (one copied, with findings), a pending request, a
    policy and an API token."""
    settings.SYNC_REGIONS = ["us-east-1"]
    with sandbox() as aws:
        images = [register_image(aws, f"web-2024.0{n}") for n in range(1, 4)]
        # The first image's page draws a family tree and a findings table.
        aws.client("ec2").copy_image(SourceImageId=images[0], SourceRegion="us-east-1", Name="web")
        aws.set_image_findings(images[0], [{"Title": "CVE-1", "SeverityLabel": "critical"}])
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
    # From its static URL: the Content-Security-Policy refuses inline scripts, injected ones too.
    page.add_script_tag(url=AXE_URL)
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


NAME_OF_FOCUSED = """() => {
  const el = document.activeElement;
  return (el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].innerText)
    || el.innerText || el.value || '').trim();
}"""


def tab_to(page, name: str, presses: int = 120) -> None:
    """Press Tab until the focused element's name starts with name, as a keyboard user would;
    the focused element must show a visible focus outline."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(NAME_OF_FOCUSED).startswith(name):
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline not in ("", "none"), f"{name!r} shows no focus outline"
            return
    raise AssertionError(f"Tab never reached {name!r}")


@pytest.fixture
def eager_cleanup(settings) -> Iterator[list[str]]:
    """Two unused images, synced; approvals execute at once (Celery eager, one approval)."""
    settings.SYNC_REGIONS = ["us-east-1"]
    settings.LIFECYCLE_APPROVALS_REQUIRED = {}
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 100.0
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    with sandbox() as aws:
        images = [register_image(aws, f"api-2023.0{n}") for n in range(1, 3)]
        run_sync(None)
        yield images
    app.conf.task_always_eager = eager


def test_a_request_and_its_approval_need_only_the_keyboard(browser, live_server, eager_cleanup):
    create_user("rita", Role.REQUESTER)
    create_user("arno", Role.APPROVER)
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    sign_in(page, "rita", PASSWORD)
    page.goto("/images/")
    tab_to(page, "Skip to content")
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    tab_to(page, f"Select {eager_cleanup[0]}")
    page.keyboard.press("Space")
    tab_to(page, f"Select {eager_cleanup[1]}")
    page.keyboard.press("Space")
    tab_to(page, "Request for selected images")
    page.keyboard.type("Deregister")  # typing on a focused list picks the option
    tab_to(page, "Request")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Request: Deregister of 2 images").wait_for()
    tab_to(page, "Reason")
    page.keyboard.type("Superseded; unused for a year")
    tab_to(page, "Submit for approval")
    page.keyboard.press("Enter")
    page.get_by_text("is waiting for approval").wait_for()
    request = LifecycleRequest.objects.get()
    context.close()

    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    sign_in(page, "arno", PASSWORD)
    page.goto(f"/requests/{request.pk}/")
    tab_to(page, "Comment")
    page.keyboard.type("Checked: nothing uses them")
    tab_to(page, "Approve")
    page.keyboard.press("Enter")
    page.get_by_text("Succeeded", exact=True).first.wait_for()
    context.close()

    approval = Approval.objects.get(request=request)
    assert approval.approver.username == "arno"
    gone = Image.objects.filter(state="deregistered").values_list("image_id", flat=True)
    assert set(gone) == set(eager_cleanup)
