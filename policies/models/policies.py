"""A retention policy: which images it looks at, what keeps them, and the stages it proposes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Policy(models.Model):
    """A named set of scope, keep rules, stages, limits and notice, evaluated into plans.

    A policy only proposes: its plans become lifecycle requests that go through the same
    preview, fingerprint, approval and execution as a hand-made one. The requests are made in
    the name of ``updated_by``, the policy's last editor, who therefore may not approve them.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=False)

    scope_accounts = models.JSONField(default=list, blank=True)
    scope_regions = models.JSONField(default=list, blank=True)
    scope_families = models.JSONField(default=list, blank=True, help_text="Globs: web*")
    scope_names = models.JSONField(default=list, blank=True, help_text="Globs: web-*")
    scope_tags = models.JSONField(default=dict, blank=True, help_text="All must match.")

    keep_newest_per_family = models.PositiveIntegerField(null=True, blank=True)
    keep_younger_than_days = models.PositiveIntegerField(null=True, blank=True)
    keep_launched_within_days = models.PositiveIntegerField(null=True, blank=True)
    keep_tags = models.JSONField(default=dict, blank=True, help_text="Any one keeps.")
    keep_public = models.BooleanField(default=False)
    keep_shared = models.BooleanField(default=False)
    keep_newest_per_lineage = models.BooleanField(
        default=False, help_text="The newest image of each copy chain (GetImageAncestry)."
    )

    deprecate = models.BooleanField(default=False)
    deprecate_at = models.DateTimeField(null=True, blank=True)
    disable_after_days = models.PositiveIntegerField(null=True, blank=True)
    deregister_after_days = models.PositiveIntegerField(null=True, blank=True)
    delete_snapshots = models.BooleanField(default=False)

    max_images_per_run = models.PositiveIntegerField(null=True, blank=True)
    max_share_of_family = models.FloatField(null=True, blank=True)

    notice_days = models.PositiveIntegerField(default=0, blank=True)
    owner_tag = models.CharField(max_length=128, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The last editor: the policy's requests are made in their name.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name

    def audit_target(self):  # -> lifecycle.services.audit.Target
        from lifecycle.services.audit import Target

        return Target("policy", str(self.pk), label=f"Policy {self.name}")

    @property
    def has_stages(self) -> bool:
        return bool(self.deprecate or self.disable_after_days is not None) or (
            self.deregister_after_days is not None
        )

    def document(self) -> dict[str, Any]:
        """The policy as its YAML entry (the policies-as-code format); keys left out when unset."""
        scope = {
            "accounts": self.scope_accounts,
            "regions": self.scope_regions,
            "families": self.scope_families,
            "names": self.scope_names,
            "tags": self.scope_tags,
        }
        keep = {
            "newest_per_family": self.keep_newest_per_family,
            "younger_than_days": self.keep_younger_than_days,
            "launched_within_days": self.keep_launched_within_days,
            "tags": self.keep_tags,
            "public": self.keep_public,
            "shared": self.keep_shared,
            "newest_per_lineage": self.keep_newest_per_lineage,
        }
        deprecate: Any = self.deprecate
        if self.deprecate and self.deprecate_at:
            deprecate = self.deprecate_at.isoformat().replace("+00:00", "Z")
        stages = {
            "deprecate": deprecate,
            "disable_after_days": self.disable_after_days,
            "deregister_after_days": self.deregister_after_days,
            "delete_snapshots": self.delete_snapshots,
        }
        limits = {
            "max_images_per_run": self.max_images_per_run,
            "max_share_of_family": self.max_share_of_family,
        }
        return {
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "scope": _present(scope),
            "keep": _present(keep, keep_false=True),
            "stages": _present(stages, keep_false=True),
            "limits": _present(limits),
            "notice_days": self.notice_days,
            "owner_tag": self.owner_tag,
        }


def _present(section: dict[str, Any], keep_false: bool = False) -> dict[str, Any]:
    """The keys of a section that say something (empty lists and unset numbers left out)."""
    return {
        key: value
        for key, value in section.items()
        if value not in (None, [], {}) and (keep_false or value is not False)
    }
