from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "settle.sales"
    label = "sales"

    def ready(self) -> None:
        from settle.notifications.worker import PERIODIC_JOBS

        from .services.reminders import reminder_job

        # S7: each due payment reminder, once per step.
        if not any(name == "payment_reminders" for name, *_ in PERIODIC_JOBS):
            PERIODIC_JOBS.append(("payment_reminders", reminder_job, 600))
