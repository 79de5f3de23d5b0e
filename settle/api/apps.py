from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "settle.api"
    label = "api"
    verbose_name = "Public API"

    def ready(self) -> None:
        from settle.notifications.worker import PERIODIC_JOBS
        from settle.payments.hooks import on_payment_refunded
        from settle.sales.hooks import on_invoice_paid

        from .webhooks import invoice_paid, payment_refunded, webhook_job

        # Webhooks out: the sales and payments services tell of paid invoices and booked refunds,
        # in the transaction of the change; the events and their deliveries are queued in it.
        on_invoice_paid(invoice_paid)
        on_payment_refunded(payment_refunded)

        # Webhooks out: due deliveries, every few seconds, next to the mail.
        if not any(name == "webhooks" for name, *_ in PERIODIC_JOBS):
            PERIODIC_JOBS.append(("webhooks", webhook_job, 5))
