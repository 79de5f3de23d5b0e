"""Demo payments setup: Maple Bakery's Stripe processor, connected to the local emulator.

`load_demo_payments(company)` is idempotent. It needs the Stripe emulator running at
settings.STRIPE_API_BASE and accepting DEMO_STRIPE_KEY (the dev server starts it with
`--key sk_live_demo_settle_0000000000000000`). Call it after the demo clients exist and
before the demo invoices are issued, so the invoices pick up the default processor (S4);
invoices issued earlier without a processor are given it here.
"""

from __future__ import annotations

import logging

from django.conf import settings

from settle.core.errors import SettleError
from settle.ledger.models import AccountRole
from settle.ledger.services import account_for_role

from .models import PaymentSettings, Processor
from .services.connections import connect_stripe_processor, set_default_processor, set_notification_email

logger = logging.getLogger(__name__)

DEMO_STRIPE_KEY = "sk_live_demo_settle_0000000000000000"
DEMO_PROCESSOR_NAME = "Stripe"
DEMO_NOTIFICATION_EMAIL = "demo@settle.test"


def load_demo_payments(company, *, created_by=None) -> Processor:
    """Connect the demo Stripe processor (once) and make it the default everywhere. Returns it."""
    from settle.sales.models import Client, Invoice

    processor = Processor.objects.filter(company=company, disconnected_at__isnull=True).order_by("pk").first()
    if processor is None:
        try:
            processor = connect_stripe_processor(
                company=company,
                name=DEMO_PROCESSOR_NAME,
                deposit_account=account_for_role(company=company, role=AccountRole.STRIPE_CLEARING),
                secret_key=DEMO_STRIPE_KEY,
                created_by=created_by,
                public_url=settings.PUBLIC_URL,
            )
        except SettleError as error:
            raise SettleError(
                f"Could not connect the demo Stripe processor through the emulator at {settings.STRIPE_API_BASE}: "
                f"{error.message} Is the emulator running with --key {DEMO_STRIPE_KEY}?"
            ) from None
        logger.info("Demo: connected Stripe processor %s", processor.pk)
        # First connection only (later runs respect what the demo user changed): clients default
        # to it, and invoices issued before it existed offer it where they can carry a link (S3).
        Client.objects.filter(company=company, default_processor__isnull=True).update(default_processor=processor)
        Invoice.objects.filter(company=company, card_processor__isnull=True).exclude(
            receivable_account__role__in=[AccountRole.BANK, AccountRole.CASH]
        ).update(card_processor=processor)
        set_default_processor(company=company, processor=processor)
    row = PaymentSettings.objects.filter(company=company).first()
    if row is None or not row.notification_email:
        set_notification_email(company=company, email=DEMO_NOTIFICATION_EMAIL)
    return processor
