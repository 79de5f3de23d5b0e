from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "settle.api"
    label = "api"
    verbose_name = "Public API"

    def ready(self) -> None:
        from settle.notifications.worker import PERIODIC_JOBS
        from settle.payments.signals import payment_refunded
        from settle.sales.signals import invoice_paid

        from .webhooks import on_invoice_paid, on_payment_refunded, webhook_job

        # Webhooks out: the sales and payments services tell of paid invoices and booked refunds,
        # in the transaction of the change; the events and their deliveries are queued in it.
        invoice_paid.connect(on_invoice_paid, dispatch_uid="api.webhooks.invoice_paid")
        payment_refunded.connect(on_payment_refunded, dispatch_uid="api.webhooks.payment_refunded")

        # Webhooks out: due deliveries, every few seconds, next to the mail.
        if not any(name == "webhooks" for name, *_ in PERIODIC_JOBS):
            PERIODIC_JOBS.append(("webhooks", webhook_job, 5))
