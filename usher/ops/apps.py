from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health and readiness probes, Prometheus metrics, request ids and JSON
    logs, and the record of every scheduled job's runs."""

    name = "usher.ops"
    label = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from usher.ops import request_ids, signals  # noqa: F401  (signals: receivers)

        request_ids.connect_celery_signals()
