"""The image rollup table (inventory.models.rollups); its triggers come in 0008.

Sorting by storage pages by (storage_gib, id): the index holds both, so a deep page seeks instead
of sorting every image of the same size."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0006_account_id_ascii_digits"),
    ]

    operations = [
        migrations.CreateModel(
            name="ImageRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("grain", models.CharField(max_length=16)),
                ("region", models.CharField(max_length=32, null=True)),
                ("gone", models.BooleanField()),
                ("state", models.CharField(max_length=16, null=True)),
                ("in_use", models.BooleanField(null=True)),
                ("public", models.BooleanField(null=True)),
                ("shared", models.BooleanField(null=True)),
                ("creation_day", models.DateField(null=True)),
                ("deprecation_day", models.DateField(null=True)),
                ("images", models.BigIntegerField(default=0)),
                ("storage_gib", models.BigIntegerField(default=0)),
                (
                    "account",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="image_rollups",
                        to="inventory.account",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=(
                            "grain",
                            "account",
                            "region",
                            "gone",
                            "state",
                            "in_use",
                            "public",
                            "shared",
                            "creation_day",
                            "deprecation_day",
                        ),
                        name="image_rollup_key",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.RemoveIndex(
            model_name="image",
            name="image_storage",
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(fields=["storage_gib", "id"], name="image_storage_id"),
        ),
    ]
