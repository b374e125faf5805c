"""Give the Requester and Approver groups the permission to start a sync."""

from django.db import migrations

GROUPS = ["Requester", "Approver"]


def grant_sync(apps, schema_editor):
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    # Permissions are normally created after migrate; create this one now so it can be granted.
    content_type, _ = content_type_model.objects.get_or_create(
        app_label="inventory", model="syncrun"
    )
    permission, _ = permission_model.objects.get_or_create(
        content_type=content_type, codename="sync", defaults={"name": "Can start a sync"}
    )
    for group in group_model.objects.filter(name__in=GROUPS):
        group.permissions.add(permission)


def revoke_sync(apps, schema_editor):
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    for group in group_model.objects.filter(name__in=GROUPS):
        group.permissions.remove(
            *permission_model.objects.filter(content_type__app_label="inventory", codename="sync")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0001_accounts_images_sync"),
        ("amidash", "0001_role_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_sync, revoke_sync)]
