from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "settle.payments"
    label = "payments"

    def ready(self) -> None:
        from settle.ledger.integrity import register_check
        from settle.notifications.worker import PERIODIC_JOBS

        from .services.reconciliation import reconcile_job
        from .services.disputes import dispute_faults
        from .services.recording import duplicate_bookings
        from .services.refunds import refund_faults

        # R1: book payments whose return and webhooks were lost.
        if not any(name == "reconcile_payments" for name, *_ in PERIODIC_JOBS):
            PERIODIC_JOBS.append(("reconcile_payments", reconcile_job, 300))
        # R5: check_ledger reports a payment intent booked more than once.
        register_check(duplicate_bookings)
        # R6: refunds in the books never exceed the payment they refund.
        register_check(refund_faults)
        # R7: every booked dispute movement has its entry.
        register_check(dispute_faults)
