"""Scratch databases for benchmarks: created beside the configured one, migrated, dropped after."""

from __future__ import annotations

from urllib.parse import quote

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections


def admin_connection() -> psycopg.Connection:
    """A connection to the server's `postgres` database (TCP, or the embedded server's socket)."""
    params = {**connection.get_connection_params(), "dbname": "postgres", "autocommit": True}
    return psycopg.connect(**params)


def use_scratch_database(suffix: str) -> str:
    """Point Django at <name>_<suffix> (created if need be) and migrate it; returns its name."""
    config = settings.DATABASES["default"]
    name = f"{config['NAME']}_{suffix}"
    with admin_connection() as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        busy = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
        ).fetchone()[0]
        if busy:
            # Another run of this benchmark: it would drop the database from under this one.
            raise SystemExit(f"{name} is in use by {busy} connection(s): another run? Try later.")
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    config["NAME"] = name
    connections.close_all()
    call_command("migrate", verbosity=0, skip_checks=True)
    return name


def drop_database(name: str) -> None:
    connections.close_all()
    with admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url() -> str:
    """The database Django uses now, as a DATABASE_URL for a worker or command it starts (TCP,
    or the embedded server's socket)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    socket_dir = (db.get("OPTIONS") or {}).get("host") or ""
    if socket_dir.startswith("/"):
        return f"postgres://{db['USER']}{password}@/{db['NAME']}?host={quote(socket_dir)}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or "5432"
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"
