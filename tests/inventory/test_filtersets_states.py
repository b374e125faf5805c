"""The image list's state filter lists exactly the images whose state badge reads that state."""

from __future__ import annotations

import re

import pytest

from inventory.filtersets import filter_images, state_badge
from inventory.forms import STATE_FILTERS
from inventory.models import Image
from tests.inventory.estates import build_every_state_estate

BADGE_TEXT = re.compile(r">([^<]+)</span>$")


def _badge(image: Image) -> str:
    return BADGE_TEXT.search(state_badge(image)).group(1)


@pytest.mark.parametrize("state", [value for value, _label in STATE_FILTERS if value])
def test_it_lists_the_images_whose_badge_reads_the_state(db, state) -> None:
    build_every_state_estate()
    reads = {state, "gone"} if state == "deregistered" else {state}
    expected = {image.pk for image in Image.objects.all() if _badge(image) in reads}
    listed = set(filter_images(Image.objects.all(), {"state": state}).values_list("pk", flat=True))
    assert listed == expected


def test_it_badges_a_deprecated_and_disabled_image_as_disabled(db) -> None:
    image = build_every_state_estate()["deprecated_and_disabled"][0]
    badge = state_badge(image)
    assert badge.startswith('<span class="badge bad" title="Also deprecated since ')
    assert badge.endswith(">disabled</span>")
