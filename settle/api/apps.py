from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "settle.api"
    label = "api"
    verbose_name = "Public API"

    def ready(self) -> None:
        from settle.notifications.worker import PERIODIC_JOBS

        from .webhooks import webhook_job

        # Webhooks out: due deliveries, every few seconds, next to the mail.
        if not any(name == "webhooks" for name, *_ in PERIODIC_JOBS):
            PERIODIC_JOBS.append(("webhooks", webhook_job, 5))
