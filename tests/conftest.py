"""Shared fixtures: persona users, one per role, and clients signed in as them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from amidash.roles import Role

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session", autouse=True)
def audit_signing_key() -> None:
    """The run's audit signing key, created explicitly (no process makes one on its own)."""
    from lifecycle.services.audit_signing import create_signing_key

    create_signing_key()


def make_user(username: str, *roles: str, superuser: bool = False) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    if superuser:
        user.is_superuser = user.is_staff = True
        user.save()
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(db) -> User:
    return make_user("viola", Role.VIEWER)


@pytest.fixture
def requester(db) -> User:
    return make_user("rita", Role.REQUESTER)


@pytest.fixture
def approver(db) -> User:
    return make_user("arno", Role.APPROVER)


@pytest.fixture
def auditor(db) -> User:
    return make_user("audrey", Role.AUDITOR)


@pytest.fixture
def admin_user(db) -> User:
    return make_user("ada", superuser=True)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(viewer) -> Client:
    return signed_in(viewer)
