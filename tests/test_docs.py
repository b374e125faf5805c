"""The repository documents itself: code points at docs/architecture.md, and what the README and
docs/ link to or name exists.

- No tracked file cites design notes kept outside the repository (their file names are built
  below, so this file does not cite them either).
- Every relative link in README.md and docs/*.md points at a tracked file, and a link's
  ``#anchor`` into a Markdown file names one of its headings.
- Every repository path and test function docs/architecture.md names exists, so the list of
  invariants keeps naming the tests that prove them.
- Every "invariant N" in the code is one of the numbered invariants of docs/architecture.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = "docs/architecture.md"
OUTSIDE_NOTES = re.compile(
    "|".join(re.escape(name) for name in ("DESIGN" + ".md", "AWS_" + "FACTS", "STYLE" + ".md")),
    re.IGNORECASE,
)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
REPO_PATH = re.compile(r"^(?:amidash|inventory|lifecycle|templates|tests|docs|bench)/[\w./-]*$")
TEST_NAME = re.compile(r"^test_\w+$")
INVARIANT_MENTION = re.compile(r"\binvariants?\s+((?:\d+(?:\s*,\s*|\s+and\s+)?)+)", re.I)


@cache
def tracked_files() -> frozenset[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True
    )
    return frozenset(name for name in listing.stdout.decode().split("\0") if name)


def text_of(name: str) -> str | None:
    """The file's text, or None for binary files (and files deleted in the work tree)."""
    try:
        data = (ROOT / name).read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def markdown_files() -> list[str]:
    return sorted(
        name
        for name in tracked_files()
        if name == "README.md" or (name.startswith("docs/") and name.endswith(".md"))
    )


def exists(path: str) -> bool:
    """A tracked file, or a folder holding tracked files."""
    files = tracked_files()
    return path in files or any(name.startswith(path.rstrip("/") + "/") for name in files)


def anchor(heading: str) -> str:
    """The anchor a heading gets on GitHub: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def anchors_of(name: str) -> set[str]:
    return {anchor(heading) for heading in HEADING.findall(text_of(name) or "")}


def test_no_tracked_file_cites_notes_kept_outside_the_repository():
    citing = [
        f"{name}:{number}"
        for name in sorted(tracked_files())
        for number, line in enumerate((text_of(name) or "").splitlines(), 1)
        if OUTSIDE_NOTES.search(line)
    ]
    assert not citing, f"cite docs/architecture.md instead: {citing}"


def test_relative_links_in_the_readme_and_docs_point_at_tracked_files():
    broken = []
    for name in markdown_files():
        for target in LINK.findall(text_of(name) or ""):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, mailto:, ...
                continue
            path, _, fragment = target.partition("#")
            resolved = str(PurePosixPath(name).parent / path) if path else name
            resolved = PurePosixPath(*_normalized(resolved)).as_posix()
            if path and not exists(resolved):
                broken.append(f"{name}: {target} (no such file)")
            elif fragment and resolved.endswith(".md") and fragment not in anchors_of(resolved):
                broken.append(f"{name}: {target} (no such heading)")
    assert not broken, broken


def _normalized(path: str) -> list[str]:
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return parts or ["."]


def test_the_architecture_names_only_paths_and_tests_that_exist():
    text = text_of(ARCHITECTURE)
    assert text, f"{ARCHITECTURE} is missing"
    spans = set(CODE_SPAN.findall(text))
    missing_paths = sorted(
        span for span in spans if REPO_PATH.match(span) and not exists(span.rstrip("/"))
    )
    test_sources = "\n".join(
        text_of(name) or ""
        for name in tracked_files()
        if name.startswith("tests/") and name.endswith(".py")
    )
    missing_tests = sorted(
        span
        for span in spans
        if TEST_NAME.match(span) and not re.search(rf"\bdef {span}\(", test_sources)
    )
    assert not missing_paths, f"{ARCHITECTURE} names files that do not exist: {missing_paths}"
    assert not missing_tests, f"{ARCHITECTURE} names tests that do not exist: {missing_tests}"


def numbered_invariants() -> set[int]:
    text = text_of(ARCHITECTURE) or ""
    section = text.split("\n## Invariants\n", 1)[1].split("\n## ", 1)[0]
    return {int(number) for number in re.findall(r"^(\d+)\. ", section, re.MULTILINE)}


def test_every_invariant_the_code_mentions_is_numbered_in_the_architecture():
    numbers = numbered_invariants()
    assert numbers == set(range(1, len(numbers) + 1)), numbers
    unknown = []
    for name in sorted(tracked_files()):
        if not name.endswith((".py", ".html", ".md")) or name == ARCHITECTURE:
            continue
        for match in INVARIANT_MENTION.finditer(text_of(name) or ""):
            cited = {int(n) for n in re.findall(r"\d+", match.group(1))}
            if cited - numbers:
                unknown.append(f"{name}: {match.group(0).strip()}")
    assert not unknown, f"not in {ARCHITECTURE}#invariants: {unknown}"
