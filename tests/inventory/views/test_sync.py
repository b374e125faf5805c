"""The sync pages: runs with per account+Region results, live progress, "Sync now"."""

from __future__ import annotations

import re

from django.urls import reverse

from inventory.choices import RegionSyncStatus, SyncStatus
from inventory.models import SyncRun
from tests.factories import create_account, create_sync_run


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_it_lists_runs_and_shows_each_regions_result(viewer_client, estate) -> None:
    run = estate["run"]
    listing = _text(viewer_client.get(reverse("inventory:sync_runs")))
    assert f"#{run.pk}" in listing and "partial" in listing
    detail = _text(viewer_client.get(reverse("inventory:sync_run_detail", args=[run.pk])))
    assert "111122223333 us-east-1 succeeded" in detail
    assert "444455556666 ap-south-1 failed" in detail and "RequestLimitExceeded" in detail


def test_it_polls_a_running_sync_and_stops_when_it_finishes(viewer_client, db) -> None:
    account = create_account()
    run = create_sync_run(
        SyncStatus.RUNNING,
        results=[
            (account, "us-east-1", RegionSyncStatus.SUCCEEDED, ""),
            (account, "eu-west-1", RegionSyncStatus.RUNNING, ""),
        ],
    )
    url = reverse("inventory:sync_run_detail", args=[run.pk])
    page = viewer_client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert "1 of 2 Regions done" in _text(viewer_client.get(url))
    run.results.filter(region="eu-west-1").update(status=RegionSyncStatus.SUCCEEDED)
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncStatus.SUCCEEDED, finished_at=run.started_at
    )
    poll = viewer_client.get(f"{url}?poll=1", headers={"HX-Request": "true"})
    assert poll.status_code == 286  # htmx: stop polling
    body = poll.content.decode()
    assert "<html" not in body and "every 2s" not in body and "succeeded" in body


def test_it_folds_skipped_regions_into_one_line_of_a_run(viewer_client, db) -> None:
    account = create_account()
    run = create_sync_run(
        results=[
            (account, "us-east-1", RegionSyncStatus.SUCCEEDED, ""),
            (account, "af-south-1", RegionSyncStatus.SKIPPED, "not opted in"),
            (account, "me-south-1", RegionSyncStatus.SKIPPED, "not opted in"),
            (account, "eu-west-3", RegionSyncStatus.SKIPPED, "sync switched off"),
        ]
    )
    response = viewer_client.get(reverse("inventory:sync_run_detail", args=[run.pk]))
    assert [r.region for r in response.context["results"]] == ["us-east-1"]
    text = _text(response)
    assert "3 account+Regions skipped: 2 not opted in, 1 sync switched off" in text
    assert f"{account.account_id} af-south-1 (not opted in)" in text
    assert f"{account.account_id} eu-west-3 (sync switched off)" in text
    assert "Started by Web " in text  # no user named: the trigger alone, not "— (Web)"


def test_it_hides_sync_now_from_users_without_the_permission(viewer_client, db) -> None:
    body = viewer_client.get(reverse("inventory:sync_runs")).content.decode()
    assert "Sync now" not in body
    response = viewer_client.post(reverse("inventory:sync_now"))
    assert response.status_code == 403
    assert not SyncRun.objects.exists()


def test_it_starts_a_sync_for_a_user_with_the_permission(requester, db) -> None:
    from tests.factories import signed_in

    client = signed_in(requester)
    assert "Sync now" in client.get(reverse("inventory:sync_runs")).content.decode()
    response = client.post(reverse("inventory:sync_now"))
    run = SyncRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:sync_run_detail", args=[run.pk])
    assert run.actor == requester and run.trigger == "web"


def test_it_suggests_the_regions_a_sync_can_list(requester, estate) -> None:
    from tests.factories import signed_in

    body = signed_in(requester).get(reverse("inventory:sync_runs")).content.decode()
    suggested = re.findall(r'<option value="([a-z0-9-]+)">', body.split('id="sync-regions"')[1])
    assert {"us-east-1", "eu-west-1", "ap-south-1"} <= set(suggested)
    assert "me-south-1" not in suggested  # not opted in: a sync skips it
    assert len(suggested) == len(set(suggested))


def test_it_redirects_htmx_with_an_htmx_redirect(requester, db) -> None:
    from tests.factories import signed_in

    response = signed_in(requester).post(
        reverse("inventory:sync_now"), headers={"HX-Request": "true"}
    )
    run = SyncRun.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("inventory:sync_run_detail", args=[run.pk])


def test_it_refuses_a_bad_sync_scope_with_a_message(requester, db) -> None:
    from tests.factories import signed_in

    create_account()  # an inventory with accounts: unknown ids are refused without asking AWS
    client = signed_in(requester)
    response = client.post(reverse("inventory:sync_now"), {"region": "mars-1; drop"})
    assert response.status_code == 400
    assert "Sync not started" in response.content.decode()
    response = client.post(reverse("inventory:sync_now"), {"account": "999999999999"})
    assert response.status_code == 400
    assert "unknown account" in response.content.decode()
    assert not SyncRun.objects.exists()


def test_it_refuses_get_on_sync_now(requester, db) -> None:
    from tests.factories import signed_in

    assert signed_in(requester).get(reverse("inventory:sync_now")).status_code == 405


def test_it_refreshes_the_run_list_only_while_a_sync_runs(viewer_client, db) -> None:
    account = create_account()
    run = create_sync_run(
        SyncStatus.RUNNING, results=[(account, "us-east-1", RegionSyncStatus.RUNNING, "")]
    )
    body = viewer_client.get(reverse("inventory:sync_runs")).content.decode()
    assert 'hx-trigger="every 3s"' in body and "1 sync running" in body
    SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.SUCCEEDED)
    body = viewer_client.get(reverse("inventory:sync_runs")).content.decode()
    assert "every 3s" not in body


def _large_run(accounts: int, regions: int) -> SyncRun:
    """A run of ``accounts`` x ``regions`` results, created in account and Region order."""
    from inventory.models import SyncRegionResult

    run = create_sync_run(SyncStatus.RUNNING)
    for n in range(accounts):
        account = create_account(f"{n:012d}", name=f"account-{n}")
        SyncRegionResult.objects.bulk_create(
            SyncRegionResult(sync_run=run, account=account, region=f"region-{r:02d}")
            for r in range(regions)
        )
    return run


def _shown(response) -> list[tuple[str, str]]:
    return [(r.account.account_id, r.region) for r in response.context["results"]]


def test_it_pages_a_large_runs_results_forward_and_back(viewer_client, db) -> None:
    from inventory.views.sync import RESULTS_PER_PAGE

    run = _large_run(accounts=13, regions=17)  # 221 results: three pages
    url = reverse("inventory:sync_run_detail", args=[run.pk])

    first = viewer_client.get(url)
    assert len(_shown(first)) == RESULTS_PER_PAGE
    assert _shown(first)[0] == ("000000000000", "region-00")
    assert "0 of 221 Regions done" in _text(first)
    second = viewer_client.get(f"{url}?{first.context['next_query']}")
    third = viewer_client.get(f"{url}?{second.context['next_query']}")
    pages = [_shown(first), _shown(second), _shown(third)]
    assert [len(page) for page in pages] == [100, 100, 21]
    every = [row for page in pages for row in page]
    assert every == sorted(every) and len(set(every)) == 221
    assert third.context["next_query"] is None
    back = viewer_client.get(f"{url}?{third.context['previous_query']}")
    assert _shown(back) == _shown(second)
    assert 'rel="next"' in second.content.decode() and 'rel="prev"' in second.content.decode()


def test_it_keeps_the_page_while_it_polls(viewer_client, db) -> None:
    run = _large_run(accounts=7, regions=17)
    url = reverse("inventory:sync_run_detail", args=[run.pk])
    after = run.results.order_by("pk")[99].pk

    page = viewer_client.get(f"{url}?after={after}").content.decode()

    assert f"?after={after}&amp;poll=1" in page


def test_it_answers_a_bad_page_link_with_400_and_the_first_page(viewer_client, db) -> None:
    run = _large_run(accounts=1, regions=3)
    url = reverse("inventory:sync_run_detail", args=[run.pk])

    for query in ("after=abc", "before=-1", "after=99999999999999999999999", "after=1&before=2"):
        response = viewer_client.get(f"{url}?{query}")
        assert response.status_code == 400, query
        assert len(_shown(response)) == 3
        assert 'role="alert"' in response.content.decode()
