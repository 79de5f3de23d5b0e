"""Reads for the dashboard. Aggregates in SQL; returns plain values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, Sum

from settle.core.compiled import CompiledQuery
from settle.ledger.selectors import BUCKET_LABELS, AgingRow, from_units, receivables_aging_totals
from settle.payments.models import Processor
from settle.sales.models import Client, Invoice, InvoiceEmail, ReceivedDay


@dataclass(frozen=True)
class Dashboard:
    today: dt.date
    owed_to_you: Decimal  # the receivable balance
    overdue: Decimal  # the part of it past due
    received_this_month: Decimal  # manual and recorded card payments dated this month
    aging: AgingRow  # the aging's Total row
    recent_invoices: list[Invoice]

    @property
    def aging_buckets(self) -> list[tuple[str, Decimal]]:
        return list(zip(BUCKET_LABELS, self.aging.buckets, strict=True))


def received_between(*, company, start: dt.date, end: dt.date) -> Decimal:
    """Payments received `start`..`end`: manual ones not reversed plus card payments recorded in the
    books, from the kept totals (`ReceivedDay`): one row a day, however many payments."""
    found = _RECEIVED.rows(company_id=company.pk, start=start, end=end)
    return from_units(found[0][0] if found else None)


_RECEIVED = CompiledQuery(
    lambda company_id, start, end: ReceivedDay.objects.filter(company_id=company_id, date__range=(start, end))
    .order_by().values("company_id").annotate(units=Sum("units")).values_list("units"),
    company_id=int, start=dt.date, end=dt.date,
)


def dashboard(*, company) -> Dashboard:
    today = company.today()
    totals = receivables_aging_totals(company=company, as_of=today)
    return Dashboard(
        today=today,
        owed_to_you=totals.total,
        overdue=totals.days_1_30 + totals.days_31_60 + totals.days_61_90 + totals.over_90,
        received_this_month=received_between(company=company, start=today.replace(day=1), end=today),
        aging=totals,
        recent_invoices=_RECENT_INVOICES.all(company_id=company.pk),
    )


# The newest invoices first, as the invoice list sorts them, with their clients (compiled once).
_RECENT_INVOICES = CompiledQuery(
    lambda company_id: Invoice.objects.filter(company_id=company_id)
    .select_related("company", "receivable_account", "client").order_by("-issue_date", "-pk")[:8],
    company_id=int,
)


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    url_name: str  # where the step is done
    for_level: str  # the least level that can do it


@dataclass(frozen=True)
class Onboarding:
    steps: list[Step]

    @property
    def done(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)


def onboarding(*, company) -> Onboarding:
    """The first things a new company does: connect a card processor, add a client, email an invoice."""
    from settle.companies.models import Level

    done = _ONBOARDING.get(company_id=company.pk)  # the three answers in one statement
    return Onboarding(
        steps=[
            Step("processor", "Add a credit card processor", done.has_processor, "addons", Level.ADMIN),
            Step("client", "Add a client", done.has_client, "sales:client_new", Level.BOOKKEEPER),
            Step("invoice", "Send your first invoice", done.has_sent_invoice, "sales:invoice_new", Level.BOOKKEEPER),
        ]
    )


def _onboarding(company_id):
    from settle.companies.models import Company

    company = OuterRef("pk")
    return Company.objects.filter(pk=company_id).only("pk").annotate(
        has_processor=Exists(Processor.objects.filter(company=company, disconnected_at__isnull=True)),
        has_client=Exists(Client.objects.filter(company=company)),
        has_sent_invoice=Exists(InvoiceEmail.objects.filter(company=company)),
    )


_ONBOARDING = CompiledQuery(_onboarding, company_id=int)
