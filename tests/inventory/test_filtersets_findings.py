"""The image list's Inspector findings filter: critical findings, and images not scanned (never
read, or refused), on the page (the API shares the filter: tests/api/test_views_images.py)."""

from __future__ import annotations

import re

from django.utils import timezone

from inventory.choices import FindingsStatus
from inventory.models import ImageFindings
from tests.factories import create_account, create_image


def _estate():
    account = create_account()
    critical = create_image(account=account, name="critical-1.0")
    clean = create_image(account=account, name="clean-1.0")
    refused = create_image(account=account, name="refused-1.0")
    create_image(account=account, name="never-read-1.0")
    now = timezone.now()
    ImageFindings.objects.create(
        image=critical, status=FindingsStatus.SCANNED, critical=1, low=4, checked_at=now
    )
    ImageFindings.objects.create(image=clean, status=FindingsStatus.SCANNED, checked_at=now)
    ImageFindings.objects.create(
        image=refused, status=FindingsStatus.NOT_SCANNED, reason="denied", checked_at=now
    )


def _names(response) -> set[str]:
    return set(re.findall(r'<td class="name" title="([^"]+)"', response.content.decode()))


def test_it_lists_images_with_critical_findings(viewer_client, db) -> None:
    _estate()

    response = viewer_client.get("/images/", {"findings": "critical"})

    assert response.status_code == 200
    assert _names(response) == {"critical-1.0"}


def test_it_lists_images_not_scanned(viewer_client, db) -> None:
    _estate()

    response = viewer_client.get("/images/", {"findings": "not_scanned"})

    assert _names(response) == {"refused-1.0", "never-read-1.0"}


def test_it_names_an_unknown_findings_choice(viewer_client, db) -> None:
    _estate()

    response = viewer_client.get("/images/", {"findings": "severe"})

    assert response.status_code == 400
    assert "Inspector findings" in response.content.decode()
