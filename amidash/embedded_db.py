"""The embedded PostgreSQL used when DATABASE_URL is unset (local use, `make demo`, `make test`).

The `pgserver` package ships PostgreSQL binaries; the server runs under the data folder and keeps
running after the process that started it exits, so later commands and test runs reuse it. As root,
pgserver runs the server as a system user it creates (`pgserver`).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

DATABASE_NAME = "amidash"


def embedded_database_url(data_dir: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    pgdata = data_dir / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return server.get_uri(DATABASE_NAME)
