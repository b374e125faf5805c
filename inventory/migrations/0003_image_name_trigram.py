"""A trigram index for substring search on image names, where pg_trgm is available.

The embedded PostgreSQL used by the demo does not ship pg_trgm; there the btree prefix index
(image_name_prefix) is all there is, and substring search still works, just without an index.
"""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX IF NOT EXISTS image_name_trgm
            ON inventory_image USING gin (UPPER(name) gin_trgm_ops);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm not installed (no privilege); image name search uses no index';
END
$$;
"""

DROP = "DROP INDEX IF EXISTS image_name_trgm;"


class Migration(migrations.Migration):
    dependencies = [("inventory", "0002_sync_permission")]

    operations = [migrations.RunSQL(CREATE, DROP)]
