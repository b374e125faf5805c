"""amidash: govern Amazon EC2 machine images across accounts and Regions."""

from amidash.celery import app as celery_app

__all__ = ["celery_app"]
