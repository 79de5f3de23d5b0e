"""One payment intent, one booking, whatever the processors (R5, R1, P4, P5, K1, K3, K6, S1, S4).

The same Stripe account behind several processors is a normal case: a reconnect, a key
rotation done as "add the new key", a name fixed by adding again. Every path that learns of
a payment (the customer's return, webhooks to *each* endpoint, the sweep) must book it once,
under the processor whose Checkout Session it is, in the company whose link opened it.
"""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from settle.core.dates import format_date
from settle.ledger.models import JournalEntry
from settle.ledger.services import Line, post_journal_entry
from settle.notifications.models import OutgoingEmail
from settle.payments.models import CardPayment, Processor
from settle.payments.services.connections import connect_stripe_processor, disconnect_processor, rotate_processor_key
from settle.payments.services.links import issue_link
from settle.payments.services.reconciliation import reconcile_payments
from settle.sales.services.balances import add_payment, keep_received
from settle.sales.services.clients import create_client
from tests import factories

from .conftest import SentLink, control, make_invoice

pytestmark = pytest.mark.django_db


def _connect(company, key, name, *, clearing, public_url="http://testserver"):
    return connect_stripe_processor(
        company=company, name=name, deposit_account=clearing, secret_key=key, created_by=None, public_url=public_url
    )


def _deliver_everywhere(stripe, processors, session_id):
    """The checkout.session.completed event, delivered (twice) to every endpoint of the account."""
    event = stripe.session_event(session_id)
    answers = []
    for processor in processors:
        processor.refresh_from_db()
        answers += [stripe.deliver(processor, event).status_code for _ in range(2)]
    return answers


def _ledger_faults() -> list[str]:
    from settle.ledger.integrity import find_faults

    return find_faults()


def test_reconnect_then_pay_books_once_through_every_path(
    company, stripe, emulator, stripe_key, stripe_clearing, processor, acme, notify_email
):  # R5, R1, P5
    # Connect K as A, disconnect A, connect K again as B (the seed's "reconnect, then resend").
    disconnect_processor(processor=processor)
    again = _connect(company, stripe_key, "Stripe", clearing=stripe_clearing)
    invoice = make_invoice(company, acme, amount=Decimal("100.00"), processor=again)
    link, url = issue_link(invoice=invoice, base="http://testserver")
    sent = SentLink(link, url)
    session_id = stripe.open_session(sent)
    assert stripe.pay(session_id).status_code == 200
    assert stripe.complete(sent, session_id).status_code == 200
    assert _deliver_everywhere(stripe, [processor, again], session_id) == [200, 200, 200, 200]
    reconcile_payments()
    reconcile_payments(company=company)

    payment = CardPayment.objects.get()
    assert payment.processor == again  # the processor whose session it is
    assert payment.stripe_account == again.account_id == processor.account_id
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("100.00") and invoice.balance_due == 0
    assert JournalEntry.objects.filter(source=f"card_payment:{payment.pk}").count() == 1
    assert OutgoingEmail.objects.filter(key__startswith="payment-notification:").count() == 1
    assert _ledger_faults() == []


def test_payment_started_before_a_disconnect_is_booked_once_on_the_old_processor(
    company, stripe, emulator, stripe_key, stripe_clearing, processor, sent_link, invoice
):  # R5, P5
    session_id = stripe.open_session(sent_link)  # opened through the first processor
    stripe.pay(session_id)  # the customer pays; return and webhooks are lost
    disconnect_processor(processor=processor)
    again = _connect(company, stripe_key, "Stripe", clearing=stripe_clearing)
    assert _deliver_everywhere(stripe, [again, processor], session_id) == [200, 200, 200, 200]
    reconcile_payments()
    payment = CardPayment.objects.get()
    assert payment.processor == processor and payment.checkout_session.session_id == session_id
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("120.00")
    assert _ledger_faults() == []


def test_the_same_account_cannot_be_connected_twice(
    company, emulator, stripe_key, stripe_clearing, processor, member_client
):  # R5, P4
    from settle.core.errors import SettleError

    with pytest.raises(SettleError) as refused:
        _connect(company, stripe_key, "Stripe Again", clearing=stripe_clearing)
    assert "already connected as “Stripe”" in refused.value.message
    assert "rotate its key" in refused.value.message and refused.value.field == "secret_key"
    # Another key of the same account is refused too.
    other_key = emulator.add_key()
    control(emulator, "POST", "keys", data={"key": "sk_live_sameaccount" + "9" * 12, "account": processor.account_id})
    with pytest.raises(SettleError):
        _connect(company, "sk_live_sameaccount" + "9" * 12, "Stripe Three", clearing=stripe_clearing)
    # Through the page: the message names the processor, nothing is saved, no webhook endpoint left behind.
    admin = member_client("admin")
    before = list(emulator.webhook_endpoints(stripe_key))
    response = admin.post("/settings/add-ons/stripe/new/", {
        "name": "Stripe Again", "deposit_account": stripe_clearing.pk, "secret_key": stripe_key,
    })
    html = response.content.decode()
    assert response.status_code == 200 and "already connected as" in html and "rotate its key" in html
    assert Processor.objects.filter(company=company).count() == 1
    assert emulator.webhook_endpoints(stripe_key) == before
    assert stripe_key not in html
    # A different Stripe account is still welcome (P4).
    assert _connect(company, other_key, "Stripe Catering", clearing=stripe_clearing).pk


def test_the_database_refuses_a_second_booking(company, processor, invoice):  # R5
    from settle.ledger.models import AccountRole
    from settle.ledger.services import account_for_role

    fields = dict(
        company=company, invoice=invoice, processor=processor, stripe_account=processor.account_id,
        payment_intent_id="pi_1", amount=Decimal("10.00"), currency="USD", paid_on=company.today(),
        status=CardPayment.Status.TO_RECORD,
    )
    CardPayment.objects.create(**fields)
    other = Processor.objects.create(
        company=company, name="Twin", deposit_account=account_for_role(company=company, role=AccountRole.STRIPE_CLEARING),
        secret_key="sk_live_x", key_last4="xxxx", account_id=processor.account_id, disconnected_at=processor.connected_at,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        CardPayment.objects.create(**{**fields, "processor": other})  # another processor, same account and intent


def test_rotating_the_key_keeps_links_and_history(
    company, stripe, emulator, processor, sent_link, invoice, member_client, stripe_key
):  # R5, P2
    first = stripe.open_session(sent_link)
    stripe.pay(first)
    stripe.complete(sent_link, first)
    new_key = "sk_live_rotated" + "7" * 16
    control(emulator, "POST", "keys", data={"key": new_key, "account": processor.account_id})
    emulator.revoke_key(stripe_key)  # rolled in the Dashboard: the old key no longer works

    admin = member_client("admin")
    page = admin.get(f"/settings/add-ons/{processor.pk}/").content.decode()
    assert "Rotate the secret key" in page
    response = admin.post(f"/settings/add-ons/{processor.pk}/rotate-key/", {"secret_key": new_key})
    assert response.status_code == 302
    processor.refresh_from_db()
    assert processor.key_last4 == new_key[-4:] and str(processor.secret_key) == new_key
    assert new_key not in admin.get(f"/settings/add-ons/{processor.pk}/").content.decode()
    # The same link still takes a payment, booked on the same processor.
    invoice2 = make_invoice(company, invoice.client, processor=processor)
    link, url = issue_link(invoice=invoice2, base="http://testserver")
    sent2 = SentLink(link, url)
    second = stripe.open_session(sent2)
    stripe.pay(second)
    stripe.complete(sent2, second)
    assert list(CardPayment.objects.order_by("pk").values_list("processor_id", flat=True)) == [processor.pk] * 2
    assert Processor.objects.filter(company=company).count() == 1


def test_rotating_to_another_accounts_key_is_refused(
    company, emulator, processor, member_client
):  # R5, P2
    admin = member_client("admin")
    for key, message in [
        (emulator.add_key(), "another Stripe account"),
        ("pk_live_" + "x" * 24, "publishable key"),
        ("sk_test_" + "x" * 24, "test key"),
        ("sk_live_unknown" + "0" * 16, "Stripe rejected this key"),
    ]:
        response = admin.post(f"/settings/add-ons/{processor.pk}/rotate-key/", {"secret_key": key})
        html = response.content.decode()
        assert response.status_code == 400 and message in html, (key, html[-2000:])
        assert key not in html
        processor.refresh_from_db()
        assert processor.key_last4 != key[-4:]
    assert member_client("bookkeeper").post(
        f"/settings/add-ons/{processor.pk}/rotate-key/", {"secret_key": "sk_live_x"}
    ).status_code == 403
    with pytest.raises(Exception):
        rotate_processor_key(processor=processor, secret_key=emulator.add_key())


def test_two_companies_one_account_never_book_each_others_payments(
    company, stripe, emulator, stripe_key, processor, sent_link, invoice
):  # R5, C2
    other = factories.make_company(name="Other Books")
    from settle.ledger.models import AccountRole
    from settle.ledger.services import account_for_role

    theirs = _connect(other, stripe_key, "Stripe", clearing=account_for_role(company=other, role=AccountRole.STRIPE_CLEARING))
    their_client = create_client(company=other, name="Their Client", emails="x@example.com", default_processor=theirs)
    their_invoice = make_invoice(other, their_client, processor=theirs)
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    # The other company's endpoint hears of our payment, and its sweep lists it: neither books it.
    event = stripe.session_event(session_id)
    assert stripe.deliver(theirs, event).content == b"ignored"
    reconcile_payments(company=other)
    assert not CardPayment.objects.filter(company=other).exists()
    their_invoice.refresh_from_db()
    assert their_invoice.amount_paid == 0
    # Ours books it once.
    reconcile_payments(company=company)
    assert CardPayment.objects.get().company == company


def test_check_ledger_reports_a_duplicate_booking_that_can_be_reversed_from_the_invoice_page(
    company, stripe, processor, sent_link, invoice, member_client, creator
):  # R5, L2
    session_id = stripe.open_session(sent_link)
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    first = CardPayment.objects.get()
    # Books kept before R5: the same payment intent booked a second time (as the old per-processor rule allowed).
    from settle.sales.models import Invoice

    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        dup = CardPayment.objects.create(
            company=company, invoice=invoice, processor=processor, stripe_account=first.stripe_account,
            session_id=first.session_id, payment_intent_id=first.payment_intent_id, amount=first.amount,
            fee=Decimal("0"), currency="USD", paid_on=first.paid_on, status=CardPayment.Status.TO_RECORD,
            duplicate_of=first,
        )
        entry = post_journal_entry(company=company, date=first.paid_on, source=f"card_payment:{dup.pk}", lines=[
            Line(account=processor.deposit_account, debit=first.amount),
            Line(account=invoice.receivable_account, credit=first.amount, invoice=invoice),
        ])
        CardPayment.objects.filter(pk=dup.pk).update(journal_entry=entry, status=CardPayment.Status.RECORDED)
        add_payment(invoice=locked, amount=first.amount)
        keep_received(company_id=company.pk, amounts=[(first.paid_on, first.amount)])  # as migration 0012 built it
    faults = _ledger_faults()
    assert any(first.payment_intent_id in f and "booked 2 times" in f for f in faults), faults
    with pytest.raises(Exception):
        call_command("check_ledger", stdout=open("/dev/null", "w"))

    page = member_client("bookkeeper").get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Booked twice" in page and "A Creator or Admin can reverse it." in page
    assert member_client("bookkeeper").post(
        f"/invoices/{invoice.pk}/card-payments/{dup.pk}/reverse-duplicate/"
    ).status_code == 403
    admin = member_client("admin")
    page = admin.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Reverse duplicate booking" in page
    response = admin.post(f"/invoices/{invoice.pk}/card-payments/{dup.pk}/reverse-duplicate/", follow=True)
    html = response.content.decode()
    assert "duplicate booking was reversed" in html and "reversed by" in html
    dup.refresh_from_db()
    invoice.refresh_from_db()
    assert dup.status == CardPayment.Status.REVERSED and dup.reversal_entry.reverses_id == entry.pk
    assert dup.reversed_by is not None and dup.reversed_at is not None
    assert invoice.amount_paid == Decimal("120.00")
    assert _ledger_faults() == []
    # Reversing twice, or the original booking, is refused and changes nothing.
    admin.post(f"/invoices/{invoice.pk}/card-payments/{dup.pk}/reverse-duplicate/")
    admin.post(f"/invoices/{invoice.pk}/card-payments/{first.pk}/reverse-duplicate/")
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("120.00") and JournalEntry.objects.filter(reverses__isnull=False).count() == 1


def test_payer_gets_a_receipt_email_and_the_paid_link_offers_it_again(
    client, company, stripe, sent_link, invoice, processor
):  # K6, K3
    session_id = stripe.open_session(sent_link, name="Ada Lovelace", email="ada@acme.example")
    stripe.pay(session_id)
    stripe.complete(sent_link, session_id)
    stripe.complete(sent_link, session_id)
    payment = CardPayment.objects.get()
    mail = OutgoingEmail.objects.get(key=f"payment-receipt:{payment.pk}")
    assert mail.to == "ada@acme.example"
    for expected in ("Maple Bakery", invoice.number, "$120.00", format_date(payment.paid_on),
                     "Visa ending 4242", payment.payment_intent_id, "/receipts/"):
        assert expected in mail.body, expected
    assert sent_link.token not in mail.body
    receipt_path = mail.body.split("view or print: ")[1].split()[0]
    receipt = client.get(receipt_path)
    assert receipt.status_code == 200 and payment.payment_intent_id in receipt.content.decode()
    page = client.get(sent_link.path).content.decode()
    assert "No amount due" in page and "View receipt" in page and receipt_path in page
