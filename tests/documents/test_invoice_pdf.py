"""The invoice PDF (S2, S6): rendered on the server by WeasyPrint from the print view's template."""

import re
from decimal import Decimal

import pytest

from settle.core.dates import format_date
from settle.payments.models import PaymentLink
from settle.sales.services.documents import invoice_pdf

from tests.sales.builders import make_client, make_invoice, make_processor, make_tax

from .conftest import link_targets, page_texts, read_pdf

pytestmark = pytest.mark.django_db


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_pdf_carries_business_client_lines_totals_terms_and_pay_link(company):  # S2, S6
    company.address = "12 Rue du Pain\nMontréal QC"
    company.save()
    client = make_client(company, name="Corner Café", emails="ap@corner.test")
    tax = make_tax(company, "GST", "5")
    invoice = make_invoice(company, client=client, lines=[("Croissants", "10", "2.50"), ("Sourdough", "2", "7.00")], tax=tax)
    url = "http://testserver/pay/abcDEF123/"

    reader = read_pdf(invoice_pdf(invoice, pay_url=url))

    text = _flat(" ".join(page_texts(reader)))
    for expected in (
        "Maple Bakery", "12 Rue du Pain", "Corner Café", "Croissants", "Sourdough", invoice.number,
        "$39.00",  # subtotal
        "$1.95",  # tax
        "$40.95",  # total
        "Amount paid", "$0.00", "Balance due", "Net 30", format_date(invoice.due_date),
    ):
        assert expected in text, expected
    assert url in link_targets(reader)
    assert url in text.replace(" ", "")


def test_download_by_viewer_has_no_new_link_and_bookkeeper_post_prints_one(company, viewer, member_client):  # S2, K1
    make_processor(company, "Stripe", default=True)
    invoice = make_invoice(company, lines=[("Cake", "3", "10.00")])

    response = viewer.get(f"/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'filename="invoice-{invoice.number}.pdf"' in response["Content-Disposition"]
    assert invoice.number in " ".join(page_texts(read_pdf(response.content)))
    assert PaymentLink.objects.count() == 0  # a viewer changes nothing

    bookkeeper = member_client("bookkeeper")
    response = bookkeeper.post(f"/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200
    reader = read_pdf(response.content)
    link = PaymentLink.objects.get()
    (uri,) = {u for u in link_targets(reader) if "/pay/" in u}  # one link (a wrapped link has one area per line)
    token = uri.rstrip("/").rsplit("/", 1)[1]
    from settle.payments.services.links import hash_token

    assert hash_token(token) == link.token_hash and link.invoice == invoice
    assert "$30.00" in " ".join(page_texts(reader))


def test_print_view_renders_the_same_document(company, viewer):  # S2
    invoice = make_invoice(company, lines=[("Cake", "3", "10.00")])
    page = viewer.get(f"/invoices/{invoice.pk}/print/").content.decode()
    assert "invoice-document" in page and invoice.number in page and "$30.00" in page
    assert f"/invoices/{invoice.pk}/pdf/" in page


def test_fifty_lines_break_cleanly_across_pages(company):  # S2
    lines = [(f"Catering item number {n:02d} with a longer description", "1", f"{n}.00") for n in range(1, 51)]
    invoice = make_invoice(company, lines=lines)
    reader = read_pdf(invoice_pdf(invoice))
    pages = page_texts(reader)

    assert 2 <= len(pages) <= 4
    # The lines table's header repeats at the top of every page that carries lines.
    for number, text in enumerate(pages, start=1):
        if "Catering item" in text:
            assert "DESCRIPTION" in text.upper(), f"page {number} has lines but no table header"
        assert f"page {number} of {len(pages)}" in text
    # No row is cut: each line's description and amount are whole on exactly one page.
    for n in range(1, 51):
        description = f"Catering item number {n:02d} with a longer description"
        holders = [i for i, text in enumerate(pages) if description in _flat(text)]
        assert len(holders) == 1, (n, holders)
        assert f"${n}.00" in pages[holders[0]]
    # The totals stay together on the last page.
    last = _flat(pages[-1])
    assert "Balance due" in last and "$1,275.00" in last
    assert sum(1 for text in pages if "Balance due" in text) == 1


def test_voided_invoice_pdf_says_void_and_offers_no_link(company, creator):  # S8, S2
    from settle.sales.services.voiding import void_invoice

    invoice = make_invoice(company, lines=[("Cake", "1", "10.00")])
    void_invoice(invoice=invoice, voided_by=creator)
    invoice.refresh_from_db()
    reader = read_pdf(invoice_pdf(invoice, pay_url="http://testserver/pay/x/"))
    assert "VOID" in " ".join(page_texts(reader))
    assert link_targets(reader) == []
    assert Decimal(invoice.balance_due) == 0


def test_pdf_carries_the_company_logo(company, settings, tmp_path):  # S2, C1
    import io as _io

    from django.core.files.base import ContentFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    buffer = _io.BytesIO()
    Image.new("RGB", (120, 40), (200, 40, 40)).save(buffer, format="PNG")
    company.logo.save("logo.png", ContentFile(buffer.getvalue()), save=True)
    invoice = make_invoice(company)

    reader = read_pdf(invoice_pdf(invoice))
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 1 and images[0].image.size == (120, 40)
