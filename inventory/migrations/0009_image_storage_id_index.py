"""Sorting by storage pages by (storage_gib, id): the index holds both, so a deep page seeks
instead of sorting every image of the same size."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0008_image_rollup_triggers"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="image",
            name="image_storage",
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(fields=["storage_gib", "id"], name="image_storage_id"),
        ),
    ]
