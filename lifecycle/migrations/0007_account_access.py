"""The "all accounts" flag; users who today have no scope rows keep every account.

Before, a user without AccountScope rows reached every account. Scope is now deny by default,
so the users who relied on that (superusers included) get the explicit flag, and nobody loses
access by this migration.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def keep_unscoped_users_on_all_accounts(apps, schema_editor):
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    access_model = apps.get_model("lifecycle", "AccountAccess")
    unscoped = user_model.objects.filter(account_scopes__isnull=True)
    access_model.objects.bulk_create(
        [
            access_model(user_id=pk, all_accounts=True)
            for pk in unscoped.values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("lifecycle", "0006_request_action_choices_from_specs"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountAccess",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="account_access",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "all_accounts",
                    models.BooleanField(
                        default=False,
                        help_text="May see and act on every account; otherwise only the accounts of its scopes.",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "account access",
            },
        ),
        migrations.RunPython(keep_unscoped_users_on_all_accounts, migrations.RunPython.noop),
    ]
