"""Fewer index writes per inserted image: redundant indexes dropped, mostly-alike values partial.

The unique constraint (account, region, image_id) serves lookups by account and by
account+Region; account_region is the one foreign key the database checks. Nothing searched
the case-sensitive name prefix index.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_image_source_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="image",
            name="image_state",
        ),
        migrations.RemoveIndex(
            model_name="image",
            name="image_account_region",
        ),
        migrations.RemoveIndex(
            model_name="image",
            name="image_public",
        ),
        migrations.RemoveIndex(
            model_name="image",
            name="image_gone_at",
        ),
        migrations.RemoveIndex(
            model_name="image",
            name="image_name_prefix",
        ),
        migrations.AlterField(
            model_name="image",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="images",
                to="inventory.account",
            ),
        ),
        migrations.AlterField(
            model_name="image",
            name="account_region",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="images",
                to="inventory.accountregion",
            ),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(("state", "available"), _negated=True),
                fields=["state"],
                name="image_state_rare",
            ),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(("public", True)), fields=["public"], name="image_public_only"
            ),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(("gone_at__isnull", False)),
                fields=["gone_at"],
                name="image_gone_only",
            ),
        ),
    ]
