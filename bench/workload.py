"""The workload: a company with clients, invoices and manual payments, built through the real services.

Deterministic for a given seed and scale (dates are relative to the company's today, so
the aging buckets have the same shape whichever day it runs). Every row is written the way
the app writes it: create_company, create_client, issue_invoices and record_manual_payments
(the batch forms of issue_invoice and record_manual_payment: same checks, same rows, posted in bulk).
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
from settle.sales.services.invoices import InvoiceInput, LineInput, issue_invoices
from settle.sales.services.manual_payments import ManualPaymentInput, record_manual_payments
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

    Every invoice and payment goes through its service (issue_invoices, record_manual_payments),
    so every ledger rule applies; `batch` invoices are issued by one issue_invoices call and
    share one outer transaction with their payments.
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
            _batch(w, rng, today, min(batch, invoices - start))
    return w


def _batch(w: Workload, rng: random.Random, today: dt.date, n: int) -> None:
    """n invoices through issue_invoices (one import), then one manual payment for some of them
    through record_manual_payments (the batch form of record_manual_payment)."""
    plans = []
    for _ in range(n):
        issue_date = today - dt.timedelta(days=rng.randint(0, HISTORY_DAYS))
        lines = invoice_lines(rng, w.tax_rate)
        client = rng.choice(w.clients)
        roll = rng.random()
        share = None
        if roll < PARTIAL_SHARE + PAID_SHARE:
            share = Decimal(1) if roll >= PARTIAL_SHARE else Decimal(rng.randint(20, 80)) / 100
            paid_on = issue_date + dt.timedelta(days=rng.randint(0, (today - issue_date).days))
        plans.append((InvoiceInput(client=client, issue_date=issue_date, lines=lines, card_processor=None),
                       share, paid_on if share is not None else None))
    issued = issue_invoices(company=w.company, invoices=[plan[0] for plan in plans], created_by=w.creator)
    w.invoices += len(issued)
    w.lines += sum(len(plan[0].lines) for plan in plans)
    payments = []
    for invoice, (_, share, paid_on) in zip(issued, plans, strict=True):
        if share is None:
            continue
        payments.append(ManualPaymentInput(
            invoice=invoice, date=paid_on, amount=(invoice.total * share).quantize(Decimal("0.01")),
            method=PaymentMethod.CHEQUE, reference=f"CHQ {w.payments + len(payments) + 1}", deposit_account=w.bank,
        ))
    record_manual_payments(company=w.company, payments=payments, created_by=w.creator)
    w.payments += len(payments)
