"""Reads of the payments app: card payments, receipts, problems (R1–R5, K3, K6)."""

from django.db.models import QuerySet

from .models import CardPayment, Problem


def card_payment_of_invoice(*, invoice, payment_id) -> CardPayment | None:
    """One booked card payment of `invoice` (a receipt shown from its pay link), or None."""
    return (
        CardPayment.objects.filter(pk=payment_id, invoice=invoice, company_id=invoice.company_id)
        .exclude(status=CardPayment.Status.REVERSED)
        .first()
    )


def receipts_of_invoice(*, invoice) -> list:
    """K6: the receipts of the invoice's card payments a payer may see again, oldest first."""
    from settle.sales.models import Receipt

    return list(
        Receipt.objects.filter(company_id=invoice.company_id, card_payment__invoice=invoice)
        .exclude(card_payment__status=CardPayment.Status.REVERSED)
        .select_related("card_payment")
        .order_by("number")
    )


def card_payments_of_invoice(*, invoice) -> list[CardPayment]:
    """The invoice page's card payments (R1, R5), oldest first, with what each booking shows."""
    return list(
        CardPayment.objects.filter(invoice=invoice, company_id=invoice.company_id)
        .select_related("processor", "journal_entry", "reversal_entry", "reversed_by")
        .order_by("created_at", "pk")
    )


def payments_to_record(*, company) -> QuerySet[CardPayment]:
    """R4: card payments that went through but wait in Payments to record."""
    return (
        CardPayment.objects.filter(company=company, status=CardPayment.Status.TO_RECORD, duplicate_of__isnull=True)
        .select_related("invoice", "invoice__client", "processor")
        .order_by("paid_on", "pk")
    )


def open_problems(*, company) -> list[Problem]:
    """R3: the company's unresolved problems, newest first, with the invoice each concerns."""
    return list(
        Problem.objects.filter(company=company, resolved_at__isnull=True)
        .select_related("processor", "card_payment", "card_payment__invoice")
        .order_by("-created_at", "-pk")
    )


def open_problem_count(*, company) -> int:
    return Problem.objects.filter(company=company, resolved_at__isnull=True).count()


LINK_STATE_LABELS = {
    "void": "Voided",
    "unavailable": "Inactive (subscription not valid)",
    "paid": "Paid, no amount due",
    "no_processor": "No card payment offered",
    "key_rejected": "Inactive (Stripe refuses the key)",
    "payable": "Active",
}


def links_of_invoice(*, invoice) -> list[tuple]:
    """The invoice page's payment links, newest first, each with what its customer would see now (K5, P5)."""
    from .services.links import link_state

    rows = []
    for link in invoice.payment_links.order_by("-created_at", "-pk"):
        state = link_state(link, invoice)
        rows.append((link, state, LINK_STATE_LABELS[state]))
    return rows
