"""Every row of a company's sales data carries its company (tenant column), filled from its parent
by the services that write it, and invoices issued and revised keep it (S2, S6)."""

from settle.ledger.models import JournalLine
from settle.sales.models import InvoiceEmail, InvoiceLine
from settle.sales.services.invoice_emails import send_invoice_email
from settle.sales.services.invoices import LineInput, revise_invoice
from tests.factories import make_company

from .builders import make_invoice


def test_invoice_lines_emails_and_journal_lines_carry_the_company(company, creator):  # S2, S6
    other = make_company(name="Other Co")
    theirs = make_invoice(other)
    invoice = make_invoice(company, lines=[("Cake", "2", "10.00"), ("Bread", "1", "4.00")])
    send_invoice_email(invoice=invoice, to=["ap@acme.test"], subject="Invoice", body="Please pay.", sent_by=creator)
    revised = revise_invoice(
        invoice=invoice, client=invoice.client, issue_date=invoice.issue_date, terms=invoice.terms,
        lines=[LineInput("Cake", 3, 10)], revised_by=creator,
    )
    assert {line.company_id for line in InvoiceLine.objects.filter(invoice=revised)} == {company.pk}
    assert {e.company_id for e in InvoiceEmail.objects.filter(invoice=invoice)} == {company.pk}
    assert {line.company_id for line in JournalLine.objects.filter(entry__company=company)} == {company.pk}
    assert {line.company_id for line in InvoiceLine.objects.filter(invoice=theirs)} == {other.pk}
    assert {line.company_id for line in JournalLine.objects.filter(entry__company=other)} == {other.pk}
