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
