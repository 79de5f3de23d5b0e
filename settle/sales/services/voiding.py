"""Voiding an invoice (S8).

A void reverses the invoice's journal entry (the ledger's reversing service, so the period
lock applies to both the entry's date and today's), voids every payment link sent for it
(they answer "voided"), and stops its reminders. The invoice keeps its number. An invoice
with payments is refused: they must be reversed or refunded first.
"""

from django.db import transaction
from django.utils import timezone

from settle.core.errors import SettleError
from settle.core.money import format_money
from settle.ledger.services import reverse_journal_entry
from settle.payments.services.recording import retire_open_sessions

from ..models import Invoice
from .invoices import has_payments

VOID_LINK_REASON = "The invoice was voided."


class InvoiceHasPayments(SettleError):
    pass


def void_invoice_links(*, invoice: Invoice) -> int:
    """Void every live payment link of `invoice` (its public page then says it was voided)."""
    from settle.payments.models import PaymentLink

    return PaymentLink.objects.filter(invoice=invoice, voided_at__isnull=True).update(
        voided_at=timezone.now(), void_reason=VOID_LINK_REASON
    )


@transaction.atomic
def void_invoice(*, invoice: Invoice, voided_by=None) -> Invoice:
    """S8: void `invoice`: reverse its entry (dated today), void its links; reminders stop.

    Takes the invoice row lock, then (in the ledger service) the entry's and the period
    lock's. Raises InvoiceHasPayments when any payment stands on it, PeriodLocked when the
    invoice or today is in the locked period, SettleError when it is already voided.
    """
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.is_void:
        raise SettleError(f"Invoice {invoice.number} is already voided.")
    if has_payments(invoice) or (invoice.amount_paid > 0 and not invoice.is_paid_at_issue):
        paid = format_money(invoice.amount_paid, invoice.company.currency)
        raise InvoiceHasPayments(
            f"Invoice {invoice.number} has payments ({paid} paid, or card payments waiting to be recorded). "
            "Reverse or refund them before voiding the invoice."
        )
    from .credits import CREDITED_REFUSAL, has_credit_notes

    if has_credit_notes(invoice):
        raise InvoiceHasPayments(CREDITED_REFUSAL)
    today = invoice.company.today()
    if invoice.journal_entry is not None:
        reverse_journal_entry(
            entry=invoice.journal_entry,
            date=max(today, invoice.journal_entry.date),
            memo=f"Void of invoice {invoice.number}",
            created_by=voided_by,
        )
    invoice.voided_at = timezone.now()
    invoice.voided_by = voided_by
    invoice.save(update_fields=["voided_at", "voided_by"])
    void_invoice_links(invoice=invoice)
    invoice_id = invoice.pk
    # K4: a card form opened before the void must not be payable afterwards (best effort).
    transaction.on_commit(lambda: retire_open_sessions(invoice_id=invoice_id))
    return invoice
