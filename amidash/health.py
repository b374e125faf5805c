"""What /healthz checks: the database and the Celery broker."""

from __future__ import annotations

import os

from celery import current_app
from django.db import connection
from kombu import Connection


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means unreachable
        return f"error: {error.__class__.__name__}: {error}".strip()
    return "ok"


def broker_status(timeout: float = 2.0) -> str:
    conf = current_app.conf
    options = conf.broker_transport_options or {}
    if conf.broker_url.startswith("filesystem://"):
        # The filesystem transport "connects" to anything: what matters is usable folders.
        for key in ("data_folder_in", "data_folder_out"):
            folder = options.get(key, "")
            if not (folder and os.path.isdir(folder) and os.access(folder, os.W_OK)):
                return f"error: broker folder {folder or key!r} is missing or not writable"
        return "ok"
    try:
        with Connection(
            conf.broker_url, transport_options=options, connect_timeout=timeout
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as error:  # kombu raises transport-specific errors
        return f"error: {error.__class__.__name__}: {error}".strip()
    return "ok"
