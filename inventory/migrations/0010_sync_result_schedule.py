"""A sync's Regions are queued when due, a budget per minute at a time: each result has the
time it is due and the time its task was queued (queue_due_regions, docs/architecture.md).

Results already pending or running were queued by the fan-out before this: they count as queued,
so the dispatcher never queues them a second time.
"""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0009_estate_snapshots"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncregionresult",
            name="due_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now,
                help_text="When the dispatcher may queue this Region's task.",
            ),
        ),
        migrations.AddField(
            model_name="syncregionresult",
            name="queued_at",
            field=models.DateTimeField(
                blank=True, help_text="When its task was queued; empty while it waits.", null=True
            ),
        ),
        migrations.RunSQL(
            "UPDATE inventory_syncregionresult SET queued_at = now() "
            "WHERE status IN ('pending', 'running')",
            migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="syncregionresult",
            index=models.Index(
                condition=models.Q(("queued_at__isnull", True), ("status", "pending")),
                fields=["due_at"],
                name="sync_result_due",
            ),
        ),
        migrations.AddIndex(
            model_name="syncregionresult",
            index=models.Index(fields=["queued_at"], name="sync_result_queued"),
        ),
    ]
