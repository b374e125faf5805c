"""Which accounts a user reaches: the one home of account scope (invariant 8 in
docs/architecture.md).

Scope is deny by default. A user sees and acts on the accounts of their ``AccountScope`` rows,
or on every account only with the all-accounts flag of their ``AccountAccess``; with neither they
reach no account at all, never every one. Superusers see every account (the admin site shows
them everything anyway) but act, like anyone else, only within their scope or with the flag.

The scope models belong to the lifecycle app; they are reached here by name, so that the
inventory can filter by scope without importing the lifecycle.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, Q, QuerySet

User = AbstractBaseUser | AnonymousUser


def _has_all_accounts_flag(user: User) -> bool:
    access = apps.get_model("lifecycle", "AccountAccess")
    return access.objects.filter(user_id=user.pk, all_accounts=True).exists()


def _scoped_account_pks(user: User) -> QuerySet[Any]:
    """The primary keys of the accounts of the user's scope rows, as a subquery."""
    scope = apps.get_model("lifecycle", "AccountScope")
    return scope.objects.filter(user_id=user.pk).values("account_id")


def sees_every_account(user: User) -> bool:
    """Superusers and holders of the all-accounts flag; nobody signed out."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or _has_all_accounts_flag(user)


def visible_accounts(user: User, field: str = "pk") -> Q:
    """The condition "``field`` names an account ``user`` may see", for any model.

    ``field`` is the path to an account's primary key (``"pk"`` on accounts, ``"account"`` on
    images, usages and sync results). It is one subquery, flag and scope rows together, so a
    page asks no extra query for it however often it filters. Empty scope gives a condition no
    row meets.
    """
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_superuser:
        return Q()
    access = apps.get_model("lifecycle", "AccountAccess")
    flag = access.objects.filter(user_id=user.pk, all_accounts=True)
    accounts = apps.get_model("inventory", "Account").objects.filter(
        Exists(flag) | Q(pk__in=_scoped_account_pks(user))
    )
    return Q(**{f"{field}__in": accounts.values("pk")})


def acting_account_ids(user: User) -> set[str] | None:
    """The AWS account ids a user may act on (request, approve), or None for every account.

    Only the explicit flag opens every account here, for superusers too.
    """
    if not user.is_authenticated:
        return set()
    if _has_all_accounts_flag(user):
        return None
    scope = apps.get_model("lifecycle", "AccountScope")
    return set(scope.objects.filter(user_id=user.pk).values_list("account__account_id", flat=True))
