"""Payment problems: the four "… to record" tables and their record actions (R4, R6, R7, R8).

Without the emulator: one row of each kind waits to be recorded, and the page shows each in its
own table with its columns, links and record action.
"""

import re

import pytest

from settle.companies.models import Level
from settle.payments.models import CardPayment, DisputeMovement, Payout, Refund
from tests.access.url_table import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(company, member_client):
    world = World(company=company, users={})
    return world, member_client(Level.BOOKKEEPER)


def table(page: str, css_class: str) -> str:
    return page.split(f'<table class="{css_class}">', 1)[1].split("</table>", 1)[0]


def test_r4_r6_r7_r8_each_kind_waiting_has_its_table_with_its_columns_links_and_action(waiting):
    world, web = waiting
    payment, refund, movement, payout = (world.card_payment(), world.refund(), world.dispute_movement(),
                                         world.payout())
    invoice = world.invoice()
    page = web.get("/payments/problems/").content.decode()
    today = world.company.today().strftime("%-d %b %Y")
    expected = {
        "to-record": (["Paid on", "Client", "Invoice", "Processor"], f'data-payment="{payment.pk}"',
                      f'/invoices/{invoice.pk}/#card-payment-{payment.pk}', f"/payments/problems/record/{payment.pk}/",
                      "Record payment", "$30.00"),
        "refunds-to-record": (["Refunded on", "Client", "Invoice", "Processor"], f'data-refund="{refund.pk}"',
                              f'/invoices/{invoice.pk}/#refund-{refund.pk}',
                              f"/payments/problems/record-refund/{refund.pk}/", "Record refund", "$10.00"),
        "disputes-to-record": (["Date", "Movement", "Client", "Invoice"], f'data-dispute-movement="{movement.pk}"',
                               f'/invoices/{invoice.pk}/#dispute-{movement.dispute_id}',
                               f"/payments/problems/record-dispute/{movement.pk}/", "Record", "$30.00"),
        "payouts-to-record": (["Arrived on", "Payout", "Processor"], f'data-payout="{payout.pk}"',
                              f'/payouts/{payout.processor_id}/{payout.payout_id}/',
                              f"/payments/problems/record-payout/{payout.pk}/", "Record payout", "$25.00"),
    }
    for css_class, (columns, row, link, action, button, amount) in expected.items():
        html = table(page, css_class)
        headings = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", html)
        assert headings == columns + ["Amount", '<span class="visually-hidden">Record</span>']
        assert '<th class="num">Amount</th>' in html
        button = f'<button type="submit">{button}</button>'
        for part in (row, f'href="{link}"', f'action="{action}"', button, amount, today):
            assert part in html, (css_class, part)
    assert "Funds withdrawn" in table(page, "disputes-to-record")
    for css_class in expected:  # each scrolls sideways on a narrow screen, so its Record button stays reachable
        assert f'<div class="table-scroll"><table class="{css_class}">' in page
    for heading in ("Payments to record", "Refunds to record", "Dispute movements to record", "Payouts to record"):
        assert f"<h2>{heading}</h2>" in page


def test_r4_with_nothing_waiting_only_payments_to_record_says_so(waiting):
    _, web = waiting
    page = web.get("/payments/problems/").content.decode()
    assert "<h2>Payments to record</h2>" in page and "No payments are waiting to be recorded." in page
    for gone in ("Refunds to record", "Dispute movements to record", "Payouts to record", "<table class"):
        assert gone not in page


@pytest.mark.parametrize("kind, url, model", [
    ("card_payment", "/payments/problems/record/{}/", CardPayment),
    ("refund", "/payments/problems/record-refund/{}/", Refund),
    ("dispute_movement", "/payments/problems/record-dispute/{}/", DisputeMovement),
    ("payout", "/payments/problems/record-payout/{}/", Payout),
])
def test_r4_r6_r7_r8_recording_with_an_unreadable_date_says_so_and_changes_nothing(waiting, kind, url, model):
    world, web = waiting
    row = getattr(world, kind)()
    response = web.post(url.format(row.pk), {"date": "31/01/2026"})
    assert response.status_code == 302 and response["Location"] == "/payments/problems/"
    page = web.get("/payments/problems/").content.decode()
    assert "Enter a date such as 2026-01-31." in page
    row.refresh_from_db()
    assert row.status == model.Status.TO_RECORD and row.journal_entry is None
