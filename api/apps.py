from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API for pipelines and SIEMs: bearer tokens, OpenAPI schema, problem responses."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from api import schema  # noqa: F401  (registers the bearer scheme with drf-spectacular)
