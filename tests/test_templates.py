"""The templates: a comment written with ``{# #}`` ends on its own line. Django reads such a
comment across lines as text, and it showed at the top of every page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted(
    path
    for folder in ("templates", "amidash", "inventory", "lifecycle", "policies", "api")
    for path in (ROOT / folder).rglob("*.html")
)
UNCLOSED_COMMENT = re.compile(r"\{#(?:(?!#\}).)*$", re.MULTILINE)


def test_it_finds_the_templates() -> None:
    assert ROOT / "templates" / "base.html" in TEMPLATES


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_comment_spans_lines(path: Path) -> None:
    text = path.read_text()
    lines = [text[: match.start()].count("\n") + 1 for match in UNCLOSED_COMMENT.finditer(text)]
    assert not lines, f"{{# #}} comment left open at line(s) {lines}; use {{% comment %}}"


def test_a_page_shows_no_template_comment(viewer_client) -> None:
    body = viewer_client.get("/").content.decode()
    assert "{#" not in body and "#}" not in body
