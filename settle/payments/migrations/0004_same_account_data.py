"""R5 for books kept before it: fill the new columns, and mark what the old rules let through.

- `company` on links, checkout sessions and webhook events, from their invoice or processor;
  `stripe_account` on sessions and card payments, from their processor; each card payment's
  checkout session, where Settle has its row.
- A payment intent booked more than once in a company and Stripe account (possible while
  uniqueness was per processor): the first booking stays, the later ones point at it
  (`duplicate_of`). They stay in the books until a Creator or Admin reverses them from the
  invoice page; `check_ledger` reports them until then.
- A Stripe account connected more than once in a company: the earliest connection stays; the
  others are marked disconnected and their invoices, clients and the company default move to
  the one that stays (the same Stripe account, so links and open checkouts are unaffected).
"""

import logging

from django.db import migrations
from django.db.models import OuterRef, Subquery
from django.utils import timezone

log = logging.getLogger("settle.payments.migrations")


def forwards(apps, schema_editor):
    Processor = apps.get_model("payments", "Processor")
    PaymentLink = apps.get_model("payments", "PaymentLink")
    CheckoutSession = apps.get_model("payments", "CheckoutSession")
    CardPayment = apps.get_model("payments", "CardPayment")
    ProcessorEvent = apps.get_model("payments", "ProcessorEvent")
    PaymentSettings = apps.get_model("payments", "PaymentSettings")
    Invoice = apps.get_model("sales", "Invoice")
    Client = apps.get_model("sales", "Client")

    PaymentLink.objects.filter(company__isnull=True).update(
        company=Subquery(Invoice.objects.filter(pk=OuterRef("invoice_id")).values("company_id")[:1])
    )
    processor_company = Processor.objects.filter(pk=OuterRef("processor_id")).values("company_id")[:1]
    processor_account = Processor.objects.filter(pk=OuterRef("processor_id")).values("account_id")[:1]
    CheckoutSession.objects.filter(company__isnull=True).update(
        company=Subquery(processor_company), stripe_account=Subquery(processor_account)
    )
    ProcessorEvent.objects.filter(company__isnull=True).update(company=Subquery(processor_company))
    CardPayment.objects.update(stripe_account=Subquery(processor_account))
    for payment in CardPayment.objects.filter(checkout_session__isnull=True).exclude(session_id="").iterator():
        session = CheckoutSession.objects.filter(company_id=payment.company_id, session_id=payment.session_id).first()
        if session is not None:
            CardPayment.objects.filter(pk=payment.pk).update(checkout_session=session)

    first_of: dict[tuple, int] = {}
    for payment in CardPayment.objects.order_by("pk").values("pk", "company_id", "stripe_account", "payment_intent_id"):
        key = (payment["company_id"], payment["stripe_account"], payment["payment_intent_id"])
        if key in first_of:
            CardPayment.objects.filter(pk=payment["pk"]).update(duplicate_of_id=first_of[key])
            log.warning("Card payment %s books payment intent %s again (first booked as %s)",
                        payment["pk"], payment["payment_intent_id"], first_of[key])
        else:
            first_of[key] = payment["pk"]

    kept: dict[tuple, int] = {}
    now = timezone.now()
    for processor in Processor.objects.filter(disconnected_at__isnull=True).exclude(account_id="").order_by("connected_at", "pk"):
        key = (processor.company_id, processor.account_id)
        if key not in kept:
            kept[key] = processor.pk
            continue
        Invoice.objects.filter(card_processor_id=processor.pk).update(card_processor_id=kept[key])
        Client.objects.filter(default_processor_id=processor.pk).update(default_processor_id=kept[key])
        PaymentSettings.objects.filter(default_processor_id=processor.pk).update(default_processor_id=kept[key])
        Processor.objects.filter(pk=processor.pk).update(disconnected_at=now)
        log.warning("Processor %s connected Stripe account %s a second time; merged into processor %s",
                    processor.pk, processor.account_id, kept[key])


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0003_same_account_fields"),
        ("sales", "0003_client_no_card_payments"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
