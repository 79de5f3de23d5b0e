"""check_ledger's checks of the kept client balances (S1) and of the kept received totals."""

from django.db.models import Case, DecimalField, Exists, F, OuterRef, Q, When

from settle.ledger.integrity import kept_differences, missing_triggers
from settle.ledger.models import JournalEntry
from settle.ledger.selectors import from_units, units_of

from .models import Client, Invoice, ManualPayment, ReceivedDay

# The triggers of migration 0013, per database vendor.
CLIENT_BALANCE_TRIGGERS = {
    "postgresql": ["sales_client_balance_row", "sales_invoice_client_balance_insert_delete",
                   "sales_invoice_client_balance_update"],
    "sqlite": ["sales_client_balance_row", "sales_invoice_client_balance_insert",
               "sales_invoice_client_balance_delete", "sales_invoice_client_balance_update"],
}


def open_balance_faults(*, company=None) -> list[str]:
    """Clients whose kept open balance (`ClientBalance`) is missing or is not the sum of the positive
    balances of their invoices not voided, and a missing trigger that keeps it (a table rebuilt by
    a later migration on SQLite would lose it)."""
    share = Case(
        When(Q(voided_at__isnull=True) & Q(balance__gt=0), then=F("balance")),
        default=0,
        output_field=DecimalField(max_digits=14, decimal_places=4),
    )
    invoices = Invoice.objects.order_by()
    clients = Client.objects.order_by()
    if company is not None:
        invoices = invoices.filter(company=company)
        clients = clients.filter(company=company)
    # Summed in Python: SQLite aggregates DECIMAL columns as floats.
    actual: dict[int, int] = {}
    for client_id, amount in invoices.annotate(share=share).filter(share__gt=0).values_list("client_id", "share"):
        actual[client_id] = actual.get(client_id, 0) + units_of(amount)
    faults = []
    for client_id, company_id, kept in clients.values_list("pk", "company_id", "balance__open_units"):
        if kept is None:
            faults.append(f"Client {client_id} (company {company_id}) has no kept open balance.")
        elif kept != actual.get(client_id, 0):
            faults.append(
                f"Client {client_id} (company {company_id}) keeps an open balance of {from_units(kept)}, "
                f"but its open invoices ask for {from_units(actual.get(client_id, 0))}."
            )
    faults += [f"Database trigger {name} is missing or disabled." for name in missing_triggers(CLIENT_BALANCE_TRIGGERS)]
    return faults


def received_faults(*, company=None) -> list[str]:
    """Kept received totals (`ReceivedDay`) that differ from the payments they stand for: per
    company and day, the manual payments not reversed and the card payments recorded."""
    from settle.payments.models import CardPayment

    manual = ManualPayment.objects.order_by().exclude(
        Exists(JournalEntry.objects.filter(reverses_id=OuterRef("journal_entry_id"), reverses_id__isnull=False))
    )
    card = CardPayment.objects.order_by().filter(status=CardPayment.Status.RECORDED)
    kept = ReceivedDay.objects.order_by()
    if company is not None:
        manual, card, kept = manual.filter(company=company), card.filter(company=company), kept.filter(company=company)
    # Summed in Python: SQLite aggregates DECIMAL columns as floats.
    actual: dict[tuple, int] = {}
    for rows in (manual.values_list("company_id", "date", "amount"), card.values_list("company_id", "paid_on", "amount")):
        for company_id, date, amount in rows.iterator(chunk_size=5000):
            key = (company_id, date)
            actual[key] = actual.get(key, 0) + units_of(amount)
    recorded = {(company_id, date): units for company_id, date, units in kept.values_list("company_id", "date", "units")}
    return [
        f"Kept received total of company {company_id} on {date} is {from_units(have)}, "
        f"but its payments received that day sum to {from_units(want)}."
        for (company_id, date), want, have in kept_differences(actual, recorded)
    ]
