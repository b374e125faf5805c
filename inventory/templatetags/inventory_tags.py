"""Template filters of the inventory pages: the badges the image table renders in Python, so
that a page and the table show an image the same way."""

from __future__ import annotations

from django import template

from inventory import filtersets

register = template.Library()
register.filter("state_badge", filtersets.state_badge)
