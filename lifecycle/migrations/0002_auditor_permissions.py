"""The Auditor role reads and exports the audit log."""

from django.db import migrations

PERMISSIONS = [
    ("view_auditevent", "Can view audit event"),
    ("export_auditevent", "Can export audit events and reports"),
]


def grant_auditor(apps, schema_editor):
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    content_type, _ = content_type_model.objects.get_or_create(
        app_label="lifecycle", model="auditevent"
    )
    auditor, _ = group_model.objects.get_or_create(name="Auditor")
    for codename, name in PERMISSIONS:
        permission, _ = permission_model.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        auditor.permissions.add(permission)


def revoke_auditor(apps, schema_editor):
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permissions = permission_model.objects.filter(
        content_type__app_label="lifecycle", codename__in=[c for c, _ in PERMISSIONS]
    )
    for group in group_model.objects.filter(name="Auditor"):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("lifecycle", "0001_audit_event"),
        ("amidash", "0001_role_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_auditor, revoke_auditor)]
