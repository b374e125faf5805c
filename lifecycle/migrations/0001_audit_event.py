"""The audit event table, its indexes, and the triggers that make it append-only.

The table is created as a managed model, then the model becomes unmanaged so that ``flush``
(and test teardown, which truncates every managed table) never tries to empty it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

APPEND_ONLY_SQL = """
CREATE FUNCTION lifecycle_auditevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit events can only be added (lifecycle.services.audit.record_event).';
END
$$;
CREATE TRIGGER lifecycle_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON lifecycle_auditevent
    FOR EACH ROW EXECUTE FUNCTION lifecycle_auditevent_append_only();
CREATE TRIGGER lifecycle_auditevent_no_truncate
    BEFORE TRUNCATE ON lifecycle_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION lifecycle_auditevent_append_only();
"""

DROP_APPEND_ONLY_SQL = """
DROP TRIGGER IF EXISTS lifecycle_auditevent_no_truncate ON lifecycle_auditevent;
DROP TRIGGER IF EXISTS lifecycle_auditevent_no_update_delete ON lifecycle_auditevent;
DROP FUNCTION IF EXISTS lifecycle_auditevent_append_only();
"""


class Migration(migrations.Migration):
    initial = True

    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("sequence", models.BigIntegerField(primary_key=True, serialize=False)),
                ("occurred_at", models.DateTimeField()),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        help_text="The user, if a user acted. Kept as an id: users may be deleted later.",
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "actor_type",
                    models.CharField(
                        choices=[
                            ("user", "User"),
                            ("system", "System"),
                            ("anonymous", "Anonymous"),
                        ],
                        max_length=16,
                    ),
                ),
                ("actor_name", models.CharField(max_length=150)),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("web", "Web"),
                            ("cli", "Command line"),
                            ("worker", "Worker"),
                            ("beat", "Schedule"),
                            ("sync", "Sync"),
                            ("admin", "Admin site"),
                            ("system", "System"),
                        ],
                        max_length=16,
                    ),
                ),
                ("correlation_id", models.CharField(blank=True, max_length=100)),
                ("verb", models.CharField(max_length=64)),
                ("target_type", models.CharField(blank=True, max_length=32)),
                ("target_id", models.CharField(blank=True, max_length=255)),
                ("target_account", models.CharField(blank=True, max_length=12)),
                ("target_region", models.CharField(blank=True, max_length=32)),
                ("target_repr", models.CharField(blank=True, max_length=255)),
                ("before", models.JSONField(blank=True, null=True)),
                ("after", models.JSONField(blank=True, null=True)),
                ("message", models.TextField(blank=True)),
                ("previous_hash", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64, unique=True)),
            ],
            options={
                "verbose_name": "audit event",
                "db_table": "lifecycle_auditevent",
                "ordering": ["-sequence"],
                "default_permissions": ("view",),
                "permissions": [("export_auditevent", "Can export audit events and reports")],
                "indexes": [
                    models.Index(fields=["occurred_at"], name="audit_occurred_at"),
                    models.Index(fields=["verb", "sequence"], name="audit_verb"),
                    models.Index(fields=["actor_name", "sequence"], name="audit_actor_name"),
                    models.Index(
                        fields=["target_type", "target_id", "sequence"], name="audit_target"
                    ),
                    models.Index(
                        fields=["target_account", "target_region", "sequence"],
                        name="audit_account_region",
                    ),
                    models.Index(fields=["correlation_id", "sequence"], name="audit_correlation"),
                ],
            },
        ),
        migrations.RunSQL(APPEND_ONLY_SQL, DROP_APPEND_ONLY_SQL),
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "managed": False,
                "verbose_name": "audit event",
                "ordering": ["-sequence"],
                "default_permissions": ("view",),
                "permissions": [("export_auditevent", "Can export audit events and reports")],
            },
        ),
    ]
