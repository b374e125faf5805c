"""Inspector findings on the image row, and in the flags grain of the image rollups.

``Image.findings_scanned`` / ``findings_critical`` / ``findings_high`` mirror ``ImageFindings``
(critical and high counts of a scanned image, 0 otherwise): statement-level triggers on
inventory_imagefindings write them in the same statement as any insert, update, delete or
truncate of the findings, whoever makes it. The image rollup triggers of 0008 are made again
with the flags grain keyed also by (scanned, any critical, any high); then the image columns are
filled from the findings and the rollups from the images.
"""

from django.db import migrations, models

KEY = (
    "grain, account_id, region, gone, state, in_use, public, shared, scanned, critical, high, "
    "creation_day, deprecation_day"
)

#: Image rows as their rollup columns, their count and storage (``sign`` 1 adds, -1 removes).
ROW = """
    SELECT account_id, region, gone_at IS NOT NULL AS gone, state, in_use, public,
           shared_with <> '[]'::jsonb AS shared, findings_scanned AS scanned,
           findings_critical > 0 AS critical, findings_high > 0 AS high,
           (creation_date AT TIME ZONE 'UTC')::date AS creation_day,
           (deprecation_time AT TIME ZONE 'UTC')::date AS deprecation_day,
           {sign} AS images, {sign} * storage_gib::bigint AS storage_gib
    FROM {table}
"""

#: One delta per key of every grain (inventory.models.rollups.GRAINS), in one pass: GROUPING()
#: tells the grain of a group (bits 4, 2, 1 for public, creation_day, deprecation_day left out).
APPLY = f"""
    INSERT INTO inventory_imagerollup AS rollup ({KEY}, images, storage_gib)
    SELECT CASE GROUPING(public, creation_day, deprecation_day)
               WHEN 3 THEN 'flags' WHEN 6 THEN 'deprecation' ELSE 'age' END,
           account_id, region, gone, state, in_use, public, shared, scanned, critical, high,
           creation_day, deprecation_day, sum(images), sum(storage_gib)
    FROM ({{rows}}) AS delta
    GROUP BY GROUPING SETS (
        (account_id, region, gone, state, in_use, public, shared, scanned, critical, high),
        (account_id, region, gone, state, deprecation_day),
        (account_id, region, gone, in_use, creation_day)
    )
    HAVING sum(images) <> 0 OR sum(storage_gib) <> 0
    ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
    ON CONFLICT ON CONSTRAINT image_rollup_key DO UPDATE
    SET images = rollup.images + excluded.images,
        storage_gib = rollup.storage_gib + excluded.storage_gib;
"""

ADDED = ROW.format(sign=1, table="new_rows")
REMOVED = ROW.format(sign=-1, table="old_rows")

ROLLUP_TRIGGERS = """
CREATE TRIGGER image_rollup_insert AFTER INSERT ON inventory_image
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inventory_image_rollup();
CREATE TRIGGER image_rollup_update AFTER UPDATE ON inventory_image
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_image_rollup();
CREATE TRIGGER image_rollup_delete AFTER DELETE ON inventory_image
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION inventory_image_rollup();
CREATE TRIGGER image_rollup_truncate AFTER TRUNCATE ON inventory_image
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_image_rollup_truncate();
"""

DROP_ROLLUP = """
DROP TRIGGER IF EXISTS image_rollup_insert ON inventory_image;
DROP TRIGGER IF EXISTS image_rollup_update ON inventory_image;
DROP TRIGGER IF EXISTS image_rollup_delete ON inventory_image;
DROP TRIGGER IF EXISTS image_rollup_truncate ON inventory_image;
DROP FUNCTION IF EXISTS inventory_image_rollup();
"""

ROLLUP = f"""
CREATE FUNCTION inventory_image_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {APPLY.format(rows=ADDED)}
    ELSIF TG_OP = 'DELETE' THEN
        {APPLY.format(rows=REMOVED)}
    ELSE
        {APPLY.format(rows=ADDED + " UNION ALL " + REMOVED)}
    END IF;
    RETURN NULL;
END
$$;
{ROLLUP_TRIGGERS}
"""

#: The image columns of the images whose findings rows a statement touched ({ids}: a query of
#: their image_id), set from their findings (none: not scanned); unchanged rows are not written.
MIRROR = """
    UPDATE inventory_image AS image
    SET findings_scanned = mirrored.scanned, findings_critical = mirrored.critical,
        findings_high = mirrored.high
    FROM (
        SELECT touched.image_id, coalesce(f.status = 'scanned', false) AS scanned,
               CASE WHEN f.status = 'scanned' THEN f.critical ELSE 0 END AS critical,
               CASE WHEN f.status = 'scanned' THEN f.high ELSE 0 END AS high
        FROM (SELECT DISTINCT image_id FROM ({ids}) AS ids) AS touched
        LEFT JOIN inventory_imagefindings AS f ON f.image_id = touched.image_id
    ) AS mirrored
    WHERE image.id = mirrored.image_id
      AND (image.findings_scanned, image.findings_critical, image.findings_high)
          IS DISTINCT FROM (mirrored.scanned, mirrored.critical, mirrored.high);
"""

FINDINGS = f"""
CREATE FUNCTION inventory_imagefindings_mirror() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {MIRROR.format(ids="SELECT image_id FROM new_rows")}
    ELSIF TG_OP = 'DELETE' THEN
        {MIRROR.format(ids="SELECT image_id FROM old_rows")}
    ELSIF TG_OP = 'UPDATE' THEN
        {MIRROR.format(ids="SELECT image_id FROM new_rows UNION ALL SELECT image_id FROM old_rows")}
    ELSE
        UPDATE inventory_image
        SET findings_scanned = false, findings_critical = 0, findings_high = 0
        WHERE findings_scanned OR findings_critical <> 0 OR findings_high <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER imagefindings_mirror_insert AFTER INSERT ON inventory_imagefindings
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_imagefindings_mirror();
CREATE TRIGGER imagefindings_mirror_update AFTER UPDATE ON inventory_imagefindings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_imagefindings_mirror();
CREATE TRIGGER imagefindings_mirror_delete AFTER DELETE ON inventory_imagefindings
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_imagefindings_mirror();
CREATE TRIGGER imagefindings_mirror_truncate AFTER TRUNCATE ON inventory_imagefindings
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_imagefindings_mirror();
"""

DROP_FINDINGS = """
DROP TRIGGER IF EXISTS imagefindings_mirror_insert ON inventory_imagefindings;
DROP TRIGGER IF EXISTS imagefindings_mirror_update ON inventory_imagefindings;
DROP TRIGGER IF EXISTS imagefindings_mirror_delete ON inventory_imagefindings;
DROP TRIGGER IF EXISTS imagefindings_mirror_truncate ON inventory_imagefindings;
DROP FUNCTION IF EXISTS inventory_imagefindings_mirror();
"""

#: Fill the image columns from the findings, then the rollups from the images.
FILL = f"""
{MIRROR.format(ids="SELECT image_id FROM inventory_imagefindings")}
DELETE FROM inventory_imagerollup;
{APPLY.format(rows=ROW.format(sign=1, table="inventory_image"))}
"""


def _rollups_of_0008() -> str:
    """The 0008 trigger function, its triggers and its refill: what going back restores."""
    import importlib

    previous = importlib.import_module("inventory.migrations.0008_image_rollup_triggers")
    function = previous.CREATE.split("CREATE FUNCTION inventory_image_rollup_truncate()")[0]
    refill = previous.CREATE.split("DELETE FROM inventory_imagerollup;")[-1]
    return f"{function}{ROLLUP_TRIGGERS}DELETE FROM inventory_imagerollup;{refill}"


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0015_image_ancestry"),
    ]

    operations = [
        # Without rollup triggers while the columns change; made again, and refilled, below.
        migrations.RunSQL(DROP_ROLLUP, _rollups_of_0008()),
        migrations.RemoveConstraint(
            model_name="imagerollup",
            name="image_rollup_key",
        ),
        migrations.AddField(
            model_name="image",
            name="findings_critical",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="image",
            name="findings_high",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="image",
            name="findings_scanned",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="imagerollup",
            name="critical",
            field=models.BooleanField(null=True),
        ),
        migrations.AddField(
            model_name="imagerollup",
            name="high",
            field=models.BooleanField(null=True),
        ),
        migrations.AddField(
            model_name="imagerollup",
            name="scanned",
            field=models.BooleanField(null=True),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(("findings_critical__gt", 0)),
                fields=["findings_critical"],
                name="image_critical_findings",
            ),
        ),
        migrations.AddConstraint(
            model_name="imagerollup",
            constraint=models.UniqueConstraint(
                fields=(
                    "grain",
                    "account",
                    "region",
                    "gone",
                    "state",
                    "in_use",
                    "public",
                    "shared",
                    "scanned",
                    "critical",
                    "high",
                    "creation_day",
                    "deprecation_day",
                ),
                name="image_rollup_key",
                nulls_distinct=False,
            ),
        ),
        migrations.RunSQL(
            ROLLUP + FINDINGS + FILL,
            DROP_FINDINGS + DROP_ROLLUP,
        ),
    ]
