"""The triggers that keep the image rollups (inventory.models.rollups) equal to the image table.

Statement-level AFTER triggers with transition tables: each INSERT, UPDATE or DELETE on
inventory_image (an ON CONFLICT upsert fires both the INSERT and the UPDATE one) adds one
grouped delta per rollup key, in key order so that two writers lock rollup rows in the same
order. A TRUNCATE of the images empties the rollups. The table is then filled from the images
present, after the triggers exist: creating them locks out writers until this commits.
"""

from django.db import migrations

KEY = (
    "grain, account_id, region, gone, state, in_use, public, shared, creation_day, deprecation_day"
)

#: Image rows as their rollup columns, their count and storage (``sign`` 1 adds, -1 removes).
ROW = """
    SELECT account_id, region, gone_at IS NOT NULL AS gone, state, in_use, public,
           shared_with <> '[]'::jsonb AS shared,
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
           account_id, region, gone, state, in_use, public, shared, creation_day,
           deprecation_day, sum(images), sum(storage_gib)
    FROM ({{rows}}) AS delta
    GROUP BY GROUPING SETS (
        (account_id, region, gone, state, in_use, public, shared),
        (account_id, region, gone, state, deprecation_day),
        (account_id, region, gone, in_use, creation_day)
    )
    HAVING sum(images) <> 0 OR sum(storage_gib) <> 0
    ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    ON CONFLICT ON CONSTRAINT image_rollup_key DO UPDATE
    SET images = rollup.images + excluded.images,
        storage_gib = rollup.storage_gib + excluded.storage_gib;
"""

ADDED = ROW.format(sign=1, table="new_rows")
REMOVED = ROW.format(sign=-1, table="old_rows")

CREATE = f"""
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

CREATE FUNCTION inventory_image_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM inventory_imagerollup;
    RETURN NULL;
END
$$;

CREATE TRIGGER image_rollup_insert AFTER INSERT ON inventory_image
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inventory_image_rollup();
CREATE TRIGGER image_rollup_update AFTER UPDATE ON inventory_image
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_image_rollup();
CREATE TRIGGER image_rollup_delete AFTER DELETE ON inventory_image
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION inventory_image_rollup();
CREATE TRIGGER image_rollup_truncate AFTER TRUNCATE ON inventory_image
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_image_rollup_truncate();

DELETE FROM inventory_imagerollup;
{APPLY.format(rows=ROW.format(sign=1, table="inventory_image"))}
"""

DROP = """
DROP TRIGGER IF EXISTS image_rollup_insert ON inventory_image;
DROP TRIGGER IF EXISTS image_rollup_update ON inventory_image;
DROP TRIGGER IF EXISTS image_rollup_delete ON inventory_image;
DROP TRIGGER IF EXISTS image_rollup_truncate ON inventory_image;
DROP FUNCTION IF EXISTS inventory_image_rollup();
DROP FUNCTION IF EXISTS inventory_image_rollup_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0007_image_rollups")]

    operations = [migrations.RunSQL(CREATE, DROP)]
