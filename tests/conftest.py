"""Shared fixtures: persona users, one per role, clients signed in as them, Celery run eagerly;
the database for the lifecycle and policies tests."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from amidash.roles import Role
from tests.factories import create_user, signed_in

#: Folders whose every test uses the database.
DATABASE_FOLDERS = ("lifecycle", "policies")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every lifecycle and policies test uses the database, transactional where a worker or
    thread reads it. Marked at collection, not by an autouse fixture, so that pytest-django sets
    the test database up however few of these tests are chosen (it looks at the collected tests'
    markers and fixtures; a database asked for inside a fixture would reach the real one)."""
    root = __file__.rsplit("/", 1)[0]
    for item in items:
        relative = str(item.path).removeprefix(root + "/")
        if relative.split("/", 1)[0] in DATABASE_FOLDERS and not item.get_closest_marker(
            "django_db"
        ):
            transaction = "transactional_db" in item.fixturenames
            item.add_marker(pytest.mark.django_db(transaction=transaction))


def pytest_configure(config: pytest.Config) -> None:
    """Test users' passwords are hashed with a fast hasher: PBKDF2's cost is the point in
    production and a second of every test that makes the role users here."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


#: The browser tests, and what ran or skipped of them, for the closing line of a run.
BROWSER_TESTS = "tests/e2e/"
ENABLE_BROWSER_TESTS = (
    "apt-get install chromium (or set AMIDASH_CHROMIUM to a Chromium), then make test"
)
browser_tests: dict[str, list[str]] = {"ran": [], "skipped": []}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count the browser tests as their reports arrive (from the xdist workers too)."""
    if not report.nodeid.startswith(BROWSER_TESTS):
        return
    if report.when == "call":
        browser_tests["ran"].append(report.nodeid)
    elif report.skipped and isinstance(report.longrepr, tuple):
        browser_tests["skipped"].append(report.longrepr[2].removeprefix("Skipped: "))


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's last line says how many browser tests ran, and when some were skipped, why and
    how to run them: a machine without Chromium must not pass for a fully tested one."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return
    ran, skipped = len(browser_tests["ran"]), browser_tests["skipped"]
    line = f"browser tests: {ran} ran"
    if skipped:
        line += f", {len(skipped)} skipped ({skipped[0]}); to run them: {ENABLE_BROWSER_TESTS}"
    reporter.write_line(line, yellow=bool(skipped), green=not skipped)


@pytest.fixture(scope="session", autouse=True)
def audit_signing_key() -> None:
    """The run's audit signing key, created explicitly (no process makes one on its own)."""
    from lifecycle.services.audit_signing import create_signing_key

    create_signing_key()


@pytest.fixture
def viewer(db) -> User:
    return create_user("viola", Role.VIEWER)


@pytest.fixture
def requester(db) -> User:
    return create_user("rita", Role.REQUESTER)


@pytest.fixture
def approver(db) -> User:
    return create_user("arno", Role.APPROVER)


@pytest.fixture
def auditor(db) -> User:
    return create_user("audrey", Role.AUDITOR)


@pytest.fixture
def admin_user(db) -> User:
    return create_user("ada", superuser=True)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return signed_in(viewer)


@pytest.fixture
def eager_celery():
    """Tasks run in this process when queued (after commit for ``delay_on_commit``)."""
    from amidash.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager
