"""Roles are Django groups; their permissions come with the apps that need them."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models


class Role(models.TextChoices):
    VIEWER = "Viewer"
    REQUESTER = "Requester"
    APPROVER = "Approver"
    AUDITOR = "Auditor"


def role_names(user: AbstractBaseUser | AnonymousUser) -> list[str]:
    """What the header shows: Admin for superusers, then the user's role groups."""
    if not user.is_authenticated:
        return []
    names = ["Admin"] if user.is_superuser else []
    names += sorted(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    return names or ["No role"]


# The data migrations that create the role groups and grant their permissions. They are idempotent
# and run again after every migrate and flush (see AmidashConfig.ready): a flush, as transactional
# tests do, would otherwise leave a database without roles.
ROLE_MIGRATIONS = [
    ("amidash.migrations.0001_role_groups", "create_roles"),
    ("inventory.migrations.0002_sync_permission", "grant_sync"),
    ("lifecycle.migrations.0002_auditor_permissions", "grant_auditor"),
    ("lifecycle.migrations.0004_request_permissions", "grant"),
    ("policies.migrations.0002_policy_permissions", "grant"),
]


def restore_role_groups(app_config: object = None, **kwargs: object) -> None:
    """post_migrate receiver: make sure every role group exists with its permissions.

    post_migrate is sent once per app with models; act once, for the last app that grants roles.
    """
    import importlib

    from django.apps import apps

    if app_config is not None and getattr(app_config, "label", None) != "lifecycle":
        return
    for module, function in ROLE_MIGRATIONS:
        getattr(importlib.import_module(module), function)(apps, None)
