"""What /healthz checks: the database and the Celery broker.

Each check answers "ok" or "down"; the reason goes to the log only. The endpoint needs no
sign-in, so the body names which dependency is down but never its error text (host names,
user names and paths in driver messages are for operators, not for anyone who can reach it).
"""

from __future__ import annotations

import logging
import os

from celery import current_app
from django.db import connection
from kombu import Connection

logger = logging.getLogger(__name__)

OK = "ok"
DOWN = "down"


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any driver error means unreachable
        logger.exception("health check: the database is down")
        return DOWN
    return OK


def broker_status(timeout: float = 2.0) -> str:
    conf = current_app.conf
    options = conf.broker_transport_options or {}
    if conf.broker_url.startswith("filesystem://"):
        # The filesystem transport "connects" to anything: what matters is usable folders.
        for key in ("data_folder_in", "data_folder_out"):
            folder = options.get(key, "")
            if not (folder and os.path.isdir(folder) and os.access(folder, os.W_OK)):
                logger.error("health check: broker folder %r is missing or not writable", folder)
                return DOWN
        return OK
    try:
        with Connection(
            conf.broker_url, transport_options=options, connect_timeout=timeout
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception:  # kombu raises transport-specific errors
        logger.exception("health check: the broker is down")
        return DOWN
    return OK
