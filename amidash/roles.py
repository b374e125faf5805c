"""Roles are Django groups; their permissions come with the apps that need them.

Rights come from these groups only (``RoleBackend``): see invariant 8 in docs/architecture.md.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.db import models
from django.db.models import Q


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


def has_role(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the user holds any role (every role includes reading); superusers are Admin."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name__in=Role.values).exists()


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


def role_groups_of(user: AbstractBaseUser) -> models.QuerySet:
    """The user's groups that are roles; any other group confers nothing."""
    return user.groups.filter(name__in=Role.values)


class RoleBackend(ModelBackend):
    """Permissions come from the role groups alone (invariant 8 in docs/architecture.md).

    A permission granted straight to a user, or added to a group that is not a role, confers no
    right: who may request, approve or audit is then readable from role membership only, and
    every change to it is a recorded role change. Superusers are the Admin role and keep every
    permission, as with Django's own backend.
    """

    def _get_user_permissions(self, user_obj: AbstractBaseUser) -> models.QuerySet:
        return Permission.objects.none()

    def _get_group_permissions(self, user_obj: AbstractBaseUser) -> models.QuerySet:
        return Permission.objects.filter(group__in=role_groups_of(user_obj))

    def with_perm(
        self,
        perm: str | Permission,
        is_active: bool = True,
        include_superusers: bool = True,
        obj: object = None,
    ) -> models.QuerySet:
        """Users holding ``perm`` through a role group (and superusers), nobody else."""
        app_label, _, codename = perm.partition(".") if isinstance(perm, str) else ("", "", "")
        grants = Permission.objects.filter(group__name__in=Role.values)
        if isinstance(perm, Permission):
            grants = grants.filter(pk=perm.pk)
        else:
            grants = grants.filter(content_type__app_label=app_label, codename=codename)
        holders = Q(groups__in=Group.objects.filter(permissions__in=grants, name__in=Role.values))
        if include_superusers:
            holders |= Q(is_superuser=True)
        users = get_user_model()._default_manager.filter(holders)
        if is_active is not None:
            users = users.filter(is_active=is_active)
        return users.none() if obj is not None else users.distinct()
