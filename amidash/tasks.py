from celery import shared_task


@shared_task
def ping(payload: str = "pong") -> str:
    """Round trip through the broker and a worker; used by health checks and tests."""
    return payload
