"""Grant the policy permissions to the role groups.

Requester: add, change and read policies; Approver, Auditor and Viewer: read them.
"""

from django.db import migrations

GRANTS = {
    "Requester": ["add_policy", "change_policy", "view_policy"],
    "Approver": ["view_policy"],
    "Auditor": ["view_policy"],
    "Viewer": ["view_policy"],
}
NAMES = {
    "add_policy": "Can add policy",
    "change_policy": "Can change policy",
    "view_policy": "Can view policy",
}


def grant(apps, schema_editor):
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    # Permissions are normally created after migrate; create these now so they can be granted.
    content_type, _ = content_type_model.objects.get_or_create(app_label="policies", model="policy")
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
                content_type__app_label="policies", codename__in=GRANTS[group.name]
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0001_initial"),
        ("amidash", "0001_role_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
