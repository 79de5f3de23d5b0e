from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "settle.sales"
    label = "sales"

    def ready(self) -> None:
        from settle.ledger.integrity import register_check
        from settle.notifications.worker import PERIODIC_JOBS

        from .integrity import open_balance_faults, received_faults
        from .services.credits import credit_faults
        from .services.reminders import reminder_job

        # S9: every credit on accounts receivable has a named source.
        register_check(credit_faults)
        # S1: each client's kept open balance.
        register_check(open_balance_faults)
        # The dashboard's "received this month": each kept day's total.
        register_check(received_faults)

        # S7: each due payment reminder, once per step.
        if not any(name == "payment_reminders" for name, *_ in PERIODIC_JOBS):
            PERIODIC_JOBS.append(("payment_reminders", reminder_job, 600))
