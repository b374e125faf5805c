"""Estate snapshots per sync run and account (the Overview's trend), and the snapshots of the
last twelve finished runs rebuilt from when each image was first seen and when it went (what
the trend showed before)."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
INSERT INTO inventory_estatesnapshot (sync_run_id, account_id, images, storage_gib, gone)
SELECT run.id, image.account_id,
       count(*) FILTER (WHERE present), coalesce(sum(image.storage_gib) FILTER (WHERE present), 0),
       count(*) FILTER (WHERE image.gone_at <= run.finished_at)
FROM (
    SELECT id, finished_at FROM inventory_syncrun
    WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 12
) AS run
CROSS JOIN inventory_image AS image
CROSS JOIN LATERAL (
    SELECT image.first_seen_at <= run.finished_at
           AND (image.gone_at IS NULL OR image.gone_at > run.finished_at) AS present
) AS moment
GROUP BY run.id, image.account_id
HAVING count(*) FILTER (WHERE present) > 0
    OR count(*) FILTER (WHERE image.gone_at <= run.finished_at) > 0
"""


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0008_image_rollup_triggers"),
    ]

    operations = [
        migrations.CreateModel(
            name="EstateSnapshot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("images", models.PositiveIntegerField(default=0)),
                ("storage_gib", models.PositiveBigIntegerField(default=0)),
                ("gone", models.PositiveIntegerField(default=0)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inventory.account",
                    ),
                ),
                (
                    "sync_run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="snapshots",
                        to="inventory.syncrun",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("sync_run", "account"), name="estate_snapshot_unique"
                    )
                ],
            },
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
