"""The workload: a company with clients, invoices and manual payments, built through the real services.

Deterministic for a given seed and scale (dates are relative to the company's today, so
the aging buckets have the same shape whichever day it runs). Every row is written the way
the app writes it: create_company, create_client, issue_invoice, record_manual_payment.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from settle.companies.models import User
from settle.companies.services import create_company
from settle.ledger.models import Account, AccountRole
from settle.ledger.services import account_for_role
from settle.sales.models import Client, PaymentMethod, TaxRate
from settle.sales.services.clients import create_client
from settle.sales.services.invoices import LineInput, issue_invoice
from settle.sales.services.manual_payments import record_manual_payment
from settle.sales.services.tax_rates import create_tax_rate

ITEMS = ["Sourdough loaves", "Croissants (dozen)", "Catering, half day", "Delivery", "Wedding cake", "Baguettes"]
PARTIAL_SHARE = 0.30  # invoices with one partial payment
PAID_SHARE = 0.15  # invoices paid in full
HISTORY_DAYS = 365  # issue dates spread over the last year


@dataclass
class Workload:
    company: object
    creator: User
    bank: Account
    receivable: Account
    sales: Account | None = None
    sales_tax: Account | None = None
    clients: list[Client] = field(default_factory=list)
    tax_rate: TaxRate | None = None
    invoices: int = 0
    lines: int = 0
    payments: int = 0

    def counts(self) -> dict:
        return {"clients": len(self.clients), "invoices": self.invoices, "invoice_lines": self.lines,
                "manual_payments": self.payments}


def invoice_lines(rng: random.Random, tax_rate: TaxRate | None) -> list[LineInput]:
    """1–4 lines, about half of them taxed."""
    return [
        LineInput(
            description=rng.choice(ITEMS),
            quantity=Decimal(rng.randint(1, 20)),
            unit_price=Decimal(rng.randint(250, 25000)) / 100,
            tax_rate=tax_rate if tax_rate is not None and rng.random() < 0.5 else None,
        )
        for _ in range(rng.randint(1, 4))
    ]


def build(
    *, name: str = "Maple Bakery", invoices: int, clients: int | None = None, seed: int = 42, batch: int = 500
) -> Workload:
    """Create the company and its books; returns the Workload (company, creator, accounts, clients).

    Every invoice and payment goes through its service (issue_invoice, record_manual_payment),
    so every ledger rule applies; `batch` of them share one outer transaction, which spares a
    commit (an fsync on PostgreSQL) per write and makes 200,000 invoices a matter of minutes.
    """
    rng = random.Random(seed)
    creator = User.objects.create_user(email=f"owner-{seed}-{invoices}@bench.example", password="bench bench bench")
    company = create_company(creator=creator, name=name, currency="USD", time_zone="UTC")
    w = Workload(
        company=company,
        creator=creator,
        bank=account_for_role(company=company, role=AccountRole.BANK),
        receivable=account_for_role(company=company, role=AccountRole.RECEIVABLE),
        sales=account_for_role(company=company, role=AccountRole.SALES),
        sales_tax=account_for_role(company=company, role=AccountRole.SALES_TAX),
        tax_rate=create_tax_rate(company=company, name="Sales tax", rate=Decimal("8.25")),
    )
    n_clients = clients or max(5, invoices // 20)
    with transaction.atomic():
        w.clients = [
            create_client(company=company, name=f"Client {i:05d}", emails=f"ap{i}@client{i}.example")
            for i in range(n_clients)
        ]
    today = company.today()
    for start in range(0, invoices, batch):
        with transaction.atomic():
            for _ in range(start, min(invoices, start + batch)):
                _one_invoice(w, rng, today)
    return w


def _one_invoice(w: Workload, rng: random.Random, today: dt.date) -> None:
    """One invoice through issue_invoice, and for some of them one manual payment."""
    company, creator = w.company, w.creator
    issue_date = today - dt.timedelta(days=rng.randint(0, HISTORY_DAYS))
    lines = invoice_lines(rng, w.tax_rate)
    invoice = issue_invoice(
        company=company, client=rng.choice(w.clients), issue_date=issue_date, lines=lines,
        card_processor=None, created_by=creator,
    )
    w.invoices += 1
    w.lines += len(lines)
    roll = rng.random()
    if roll < PARTIAL_SHARE + PAID_SHARE:
        share = Decimal(1) if roll >= PARTIAL_SHARE else Decimal(rng.randint(20, 80)) / 100
        amount = (invoice.total * share).quantize(Decimal("0.01"))
        paid_on = issue_date + dt.timedelta(days=rng.randint(0, (today - issue_date).days))
        record_manual_payment(
            invoice=invoice, date=paid_on, amount=amount, method=PaymentMethod.CHEQUE,
            reference=f"CHQ {w.payments + 1}", deposit_account=w.bank, created_by=creator,
        )
        w.payments += 1
