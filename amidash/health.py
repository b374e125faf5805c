"""What /healthz checks: the database and the Celery broker."""

from __future__ import annotations

from celery import current_app
from django.db import connection


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means unreachable
        return f"error: {error.__class__.__name__}: {error}".strip()
    return "ok"


def broker_status(timeout: float = 2.0) -> str:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as error:  # kombu raises transport-specific errors
        return f"error: {error.__class__.__name__}: {error}".strip()
    return "ok"
