"""Demo data for `make run` (`manage.py load_demo`): Maple Bakery's books, built through the services.

`load_demo()` runs STEPS in order. Each step takes the Demo so far, does its part only if it
has not been done (running the command twice changes nothing) and returns nothing. To extend
the demo, write one function and add one line to STEPS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from settle.api.demo import load_demo_api_key
from settle.companies.models import Company, Membership, Subscription, User
from settle.companies.services import set_subscription, sign_up, update_company
from settle.ledger.models import AccountRole
from settle.payments.demo import load_demo_payments
from settle.ledger.services import account_for_role
from settle.sales.models import Client, Invoice, PaymentMethod, TaxRate, Terms
from settle.sales.services.clients import create_client
from settle.sales.services.invoice_emails import default_body, default_subject, send_invoice_email
from settle.sales.services.invoices import LineInput, issue_invoice
from settle.sales.services.manual_payments import record_manual_payment
from settle.sales.services.tax_rates import create_tax_rate

DEMO_EMAIL = "demo@settle.test"
DEMO_PASSWORD = "settle-demo-2026"
DEMO_NAME = "Dana Maple"
COMPANY_NAME = "Maple Bakery"


@dataclass
class Demo:
    user: User | None = None
    company: Company | None = None
    api_key: str = ""


def demo_user_and_company(demo: Demo) -> None:
    """The demo user, Creator of Maple Bakery (USD, America/Toronto)."""
    user = User.objects.filter(email=DEMO_EMAIL).first()
    if user is None:
        user, company = sign_up(
            email=DEMO_EMAIL, full_name=DEMO_NAME, password=DEMO_PASSWORD, company_name=COMPANY_NAME,
            currency="USD", time_zone="America/Toronto",
        )
        update_company(
            company=company, name=COMPANY_NAME, currency="USD", time_zone="America/Toronto",
            address="12 Queen Street West\nToronto, ON M5H 2N2", email="hello@maplebakery.example.com",
        )
    membership = Membership.objects.filter(user=user, company__name=COMPANY_NAME).select_related("company").first()
    if membership is None:
        raise RuntimeError(f"{DEMO_EMAIL} exists but is not a member of {COMPANY_NAME}; remove the user or the database.")
    demo.user, demo.company = user, membership.company


def demo_subscription(demo: Demo) -> None:
    if demo.company.subscription.status != Subscription.Status.ACTIVE:
        set_subscription(company=demo.company, status=Subscription.Status.ACTIVE)


def demo_tax_rate(demo: Demo) -> None:
    if not TaxRate.objects.filter(company=demo.company, name="HST").exists():
        create_tax_rate(company=demo.company, name="HST", rate=Decimal("13"))


CLIENTS = [
    ("Northwind Café", "orders@northwind.example.com", "400 King Street East\nToronto, ON"),
    ("Harbour Hotel", "accounts@harbourhotel.example.com, chef@harbourhotel.example.com", "1 Harbour Square\nToronto, ON"),
    ("Lakeside Events", "hello@lakeside-events.example.com", "88 Lakeshore Blvd\nToronto, ON"),
]


def demo_clients(demo: Demo) -> None:
    for name, emails, address in CLIENTS:
        if not Client.objects.filter(company=demo.company, name=name).exists():
            create_client(company=demo.company, name=name, emails=emails, address=address)


@dataclass(frozen=True)
class DemoInvoice:
    client: str
    days_ago: int
    terms: str
    lines: list[tuple[str, str, str]]  # description, quantity, unit price
    paid: list[tuple[int, str, str]]  # (days after issue, amount or "all", method)
    email: bool = False


# Overdue by various amounts, partially paid, paid, and unpaid: every status and aging bucket.
INVOICES = [
    DemoInvoice("Lakeside Events", 130, Terms.NET_30, [("Wedding cake, three tiers", "1", "850.00")], []),
    DemoInvoice("Northwind Café", 80, Terms.NET_30, [("Croissants (dozen)", "40", "18.00")], [(20, "300.00", PaymentMethod.CHEQUE)]),
    DemoInvoice("Harbour Hotel", 45, Terms.NET_30, [("Sourdough loaves", "60", "7.50"), ("Butter tarts (dozen)", "10", "21.00")], []),
    DemoInvoice("Northwind Café", 25, Terms.NET_15, [("Croissants (dozen)", "30", "18.00")], [(5, "all", PaymentMethod.TRANSFER)]),
    DemoInvoice("Harbour Hotel", 12, Terms.NET_30, [("Brunch pastries platter", "8", "65.00")], [(6, "200.00", PaymentMethod.CHEQUE)], email=True),
    DemoInvoice("Lakeside Events", 3, Terms.NET_30, [("Cupcakes (dozen)", "12", "30.00"), ("Delivery", "1", "25.00")], [], email=True),
]


def demo_invoices(demo: Demo) -> None:
    """Issued only once: skipped when the company already has invoices."""
    company = demo.company
    if Invoice.objects.filter(company=company).exists():
        return
    today = company.today()
    hst = TaxRate.objects.get(company=company, name="HST")
    bank = account_for_role(company=company, role=AccountRole.BANK)
    with transaction.atomic():
        for spec in INVOICES:
            issue_date = today - dt.timedelta(days=spec.days_ago)
            invoice = issue_invoice(
                company=company,
                client=Client.objects.get(company=company, name=spec.client),
                issue_date=issue_date,
                terms=spec.terms,
                lines=[LineInput(d, Decimal(q), Decimal(p), tax_rate=hst) for d, q, p in spec.lines],
                created_by=demo.user,
            )
            for after, amount, method in spec.paid:
                invoice.refresh_from_db()
                record_manual_payment(
                    invoice=invoice,
                    date=issue_date + dt.timedelta(days=after),
                    amount=invoice.balance_due if amount == "all" else Decimal(amount),
                    method=method,
                    deposit_account=bank,
                    created_by=demo.user,
                )
            if spec.email:
                invoice.refresh_from_db()
                send_invoice_email(
                    invoice=invoice, to=invoice.client.email_list, subject=default_subject(invoice),
                    body=default_body(invoice), sent_by=demo.user,
                )


STEPS: list[Callable[[Demo], None]] = [
    demo_user_and_company,
    demo_subscription,
    demo_tax_rate,
    demo_clients,
    lambda demo: load_demo_payments(demo.company, created_by=demo.user),
    demo_invoices,
    lambda demo: setattr(demo, "api_key", load_demo_api_key(demo.company, created_by=demo.user)),
]


def load_demo() -> Demo:
    demo = Demo()
    for step in STEPS:
        step(demo)
    return demo
