"""A user signs in through the real form and lands on the overview."""

import pytest

from tests.e2e.browser import screenshot, sign_in
from tests.factories import PASSWORD, create_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_signs_in_and_shows_the_overview(page) -> None:
    create_user("ada", superuser=True)
    sign_in(page, "ada", PASSWORD)
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    assert page.get_by_role("navigation", name="Main").is_visible()
    screenshot(page, "sign-in-overview")
