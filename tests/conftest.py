"""Shared fixtures: persona users, one per role, and clients signed in as them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from amidash.roles import Role
from tests.factories import create_user, signed_in


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
