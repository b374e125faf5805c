"""Amazon Inspector findings per image, counted by severity."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0013_usage_reference_types"),
    ]

    operations = [
        migrations.CreateModel(
            name="ImageFindings",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("scanned", "Scanned"), ("not_scanned", "Not scanned")],
                        max_length=16,
                    ),
                ),
                (
                    "reason",
                    models.CharField(
                        blank=True, help_text="Why it was not scanned.", max_length=255
                    ),
                ),
                ("critical", models.PositiveIntegerField(default=0)),
                ("high", models.PositiveIntegerField(default=0)),
                ("medium", models.PositiveIntegerField(default=0)),
                ("low", models.PositiveIntegerField(default=0)),
                ("informational", models.PositiveIntegerField(default=0)),
                ("checked_at", models.DateTimeField()),
                (
                    "image",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="findings",
                        to="inventory.image",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("critical__gt", 0)),
                        fields=["critical"],
                        name="findings_critical",
                    )
                ],
            },
        ),
    ]
