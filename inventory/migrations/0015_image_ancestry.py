"""The ancestors of each image (GetImageAncestry)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0014_image_findings"),
    ]

    operations = [
        migrations.CreateModel(
            name="ImageAncestry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveSmallIntegerField()),
                ("ancestor_image_id", models.CharField(max_length=32)),
                ("ancestor_region", models.CharField(blank=True, max_length=32)),
                ("creation_date", models.DateTimeField(blank=True, null=True)),
                ("owner_alias", models.CharField(blank=True, max_length=32)),
                ("observed_at", models.DateTimeField()),
                (
                    "image",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ancestry",
                        to="inventory.image",
                    ),
                ),
            ],
            options={
                "ordering": ["image", "position"],
                "indexes": [models.Index(fields=["ancestor_image_id"], name="ancestry_ancestor")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("image", "position"), name="image_ancestry_unique"
                    )
                ],
            },
        ),
    ]
