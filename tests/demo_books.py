"""Demo-like books for page-wide tests: `manage.py load_demo` plus a member at every level,
a card payment that came back through a payment link, and that link's token.

The Stripe emulator must accept the demo key (the `emulator` fixture plus
`emulator.add_key(DEMO_STRIPE_KEY)`), as it does under `make run`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from settle.companies.models import Company, Level, User
from settle.notifications.models import OutgoingEmail
from settle.payments.demo import DEMO_STRIPE_KEY
from settle.payments.models import CardPayment, CheckoutSession, Processor
from settle.payments.processors.base import PaymentResult
from settle.payments.services.links import issue_link
from settle.payments.services.recording import record_card_payment
from settle.sales.models import Client, Invoice
from settle.web.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests import factories

PASSWORD = "correct horse battery"  # every member added here (the demo user keeps DEMO_PASSWORD)


@dataclasses.dataclass
class DemoBooks:
    company: Company
    users: dict[str, User]  # level -> user
    passwords: dict[str, str]
    invoice: Invoice  # partly paid by card through `token`
    open_invoice: Invoice  # emailed, nothing paid: still editable
    client: Client
    processor: Processor
    token: str
    session_id: str
    card_payment: CardPayment
    outbox_message_pk: int

    def pages(self, level: str) -> dict[str, str]:
        """The main pages this level reaches from the navigation, by name -> path."""
        invoice, entry = self.invoice.pk, self.invoice.journal_entry_id
        names = {
            "dashboard": ("dashboard", {}),
            "invoice list": ("sales:invoice_list", {}),
            "invoice page": ("sales:invoice_detail", {"pk": invoice}),
            "client list": ("sales:client_list", {}),
            "client page": ("sales:client_detail", {"pk": self.client.pk}),
            "accounts": ("ledger:accounts", {}),
            "journal": ("ledger:journal", {}),
            "journal entry": ("ledger:entry", {"pk": entry}),
            "register": ("ledger:register", {"pk": self.invoice.receivable_account_id}),
            "trial balance": ("ledger:trial_balance", {}),
            "aging": ("ledger:aging", {}),
            "outbox": ("outbox", {}),
            "outbox message": ("outbox_message", {"pk": self.outbox_message_pk}),
        }
        if level != Level.VIEWER:
            names |= {
                "invoice form": ("sales:invoice_new", {}),
                "invoice edit form": ("sales:invoice_edit", {"pk": self.open_invoice.pk}),
                "invoice email": ("sales:invoice_email", {"pk": invoice}),
                "client form": ("sales:client_new", {}),
                "journal form": ("ledger:entry_create", {}),
                "problems": ("payment_problems", {}),
            }
        if level in (Level.CREATOR, Level.ADMIN):
            names |= {
                "settings": ("settings", {}),
                "company settings": ("company_settings", {}),
                "users": ("users", {}),
                "invite": ("user_invite", {}),
                "period lock": ("period_lock", {}),
                "tax rates": ("sales:tax_rate_list", {}),
                "add-ons": ("addons", {}),
                "processor form": ("processor_new_stripe", {}),
                "processor edit": ("processor_edit", {"pk": self.processor.pk}),
                "invoice payments": ("invoice_payments_settings", {}),
                "webhooks": ("webhook_endpoints", {}),
            }
        return {name: reverse(url, kwargs=kwargs) for name, (url, kwargs) in names.items()}

    def public_pages(self) -> dict[str, str]:
        """The pages anyone may open: signing in, and the customer's pages of the payment link."""
        token = self.token
        return {
            "login": reverse("login"),
            "sign-up": reverse("signup"),
            "pay page": reverse("pay_page", kwargs={"token": token}),
            "pay details": reverse("pay_details", kwargs={"token": token}),
            "complete page": reverse("pay_complete", kwargs={"token": token}) + f"?session_id={self.session_id}",
            # The receipt has its own address (the pay link's receipt address redirects there, K3).
            "receipt": reverse("sales:receipt", kwargs={"public_id": self.card_payment.receipt.public_id}),
        }


def load_demo_books(*, emulator, base_url: str = "http://testserver") -> DemoBooks:
    emulator.add_key(DEMO_STRIPE_KEY, business_name="Maple Bakery")
    call_command("load_demo")
    company = Company.objects.get(name="Maple Bakery")
    users = {Level.CREATOR: User.objects.get(email=DEMO_EMAIL)}
    passwords = {Level.CREATOR: DEMO_PASSWORD}
    for level in (Level.ADMIN, Level.BOOKKEEPER, Level.VIEWER):
        users[level] = factories.add_member(
            company, level=level, user=factories.make_user(email=f"{level}@maplebakery.example.com", full_name=f"{level.title()} Maple")
        ).user
        passwords[level] = PASSWORD

    processor = Processor.objects.get(company=company, disconnected_at__isnull=True)
    invoice = Invoice.objects.filter(company=company, client__name="Harbour Hotel", amount_paid=0).order_by("pk").first()
    link, url = issue_link(invoice=invoice, base=base_url)
    token = url.rstrip("/").rsplit("/", 1)[1]
    # The customer paid part of it on Stripe's page and came back (K3, R1).
    session_id = "cs_demo_books_1"
    session = CheckoutSession.objects.create(
        company=company, stripe_account=processor.account_id, link=link, processor=processor, session_id=session_id,
        amount=invoice.balance_due, currency=company.currency, status=CheckoutSession.Status.COMPLETE,
    )
    payment = record_card_payment(
        session=session,
        result=PaymentResult(
            session_id=session_id, payment_intent_id="pi_demo_books_1", charge_id="ch_demo_books_1",
            amount=invoice.balance_due / 2, fee=factories.d("3.10"), currency=company.currency,
            paid_at=timezone.now() - dt.timedelta(minutes=5), card_brand="visa", card_last4="4242",
            billing_name="Harbour Hotel Accounts", billing_email="accounts@harbourhotel.example.com",
            metadata={
                "settle_payment": "1", "company_id": str(company.pk), "invoice_id": str(invoice.pk),
                "link_id": str(link.pk),
            },
        ),
    )
    invoice.refresh_from_db()
    open_invoice = Invoice.objects.filter(company=company, amount_paid=0, emails__isnull=False).order_by("-pk").first()
    return DemoBooks(
        company=company, users=users, passwords=passwords, invoice=invoice, open_invoice=open_invoice, client=invoice.client,
        processor=processor, token=token, session_id=session_id, card_payment=payment,
        outbox_message_pk=OutgoingEmail.objects.filter(company=company).order_by("pk").first().pk,
    )
