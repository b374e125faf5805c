"""Shared fixtures: persona users, one per role, and clients signed in as them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from amidash.roles import Role
from tests.factories import create_user, signed_in


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
