"""Grant the lifecycle request permissions to the role groups.

Requester: request actions (and read); Approver: approve or reject (and read); Auditor and
Viewer: read requests.
"""

from django.db import migrations

GRANTS = {
    "Requester": ["request_action", "view_lifecyclerequest"],
    "Approver": ["approve_request", "view_lifecyclerequest"],
    "Auditor": ["view_lifecyclerequest"],
    "Viewer": ["view_lifecyclerequest"],
}
NAMES = {
    "request_action": "Can request a lifecycle action",
    "approve_request": "Can approve or reject lifecycle requests",
    "view_lifecyclerequest": "Can view lifecycle request",
}


def grant(apps, schema_editor):
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    # Permissions are normally created after migrate; create these now so they can be granted.
    content_type, _ = content_type_model.objects.get_or_create(
        app_label="lifecycle", model="lifecyclerequest"
    )
    permissions = {
        codename: permission_model.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )[0]
        for codename, name in NAMES.items()
    }
    for group in group_model.objects.filter(name__in=GRANTS):
        group.permissions.add(*(permissions[c] for c in GRANTS[group.name]))


def revoke(apps, schema_editor):
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    for group in group_model.objects.filter(name__in=GRANTS):
        group.permissions.remove(
            *permission_model.objects.filter(
                content_type__app_label="lifecycle", codename__in=GRANTS[group.name]
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("lifecycle", "0003_lifecycle_requests"),
        ("amidash", "0001_role_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
