"""Payment problems and Payments to record (R3, R4). Bookkeeper and above.

Exception: a `key_rejected` problem is about the processor itself, and processor
administration is Creator/Admin only (C2), so only they may mark it resolved. The URL
stays Bookkeeper (the access matrix declares one level per URL); the view refuses a
Bookkeeper for that kind, changing nothing, and says why.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from settle.companies.access import access_object, member_required
from settle.companies.models import Level
from settle.core.errors import SettleError

from .. import selectors
from ..models import CardPayment, DisputeMovement, Payout, Problem, Refund
from ..services.disputes import record_pending_dispute_movement
from ..services.payouts import record_pending_payout
from ..services.problems import resolve_problem
from ..services.recording import record_pending_payment
from ..services.refunds import record_pending_refund


class RecordForm(forms.Form):
    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


@dataclass
class Cell:
    text: str
    href: str = ""


@dataclass
class Waiting:
    """One row of a "to record" table: the row's id, its date, the cells between, its amount."""

    pk: int
    on: dt.date
    cells: list[Cell]
    amount: Decimal
    currency: str


@dataclass
class ToRecord:
    """One "… to record" table of Payment problems (R4, R6, R7, R8)."""

    key: str  # the rows' data- attribute
    css_class: str
    columns: list[str]  # the date's heading and those of the cells
    record_url: str
    button: str
    rows: list[Waiting]


def _invoice(invoice, anchor: str) -> Cell:
    return Cell(invoice.number, reverse("sales:invoice_detail", args=[invoice.pk]) + f"#{anchor}")


def to_record_tables(company) -> dict[str, ToRecord]:
    """What waits to be recorded, oldest first in each table."""
    payments = [
        Waiting(p.pk, p.paid_on, [Cell(p.invoice.client.name), _invoice(p.invoice, f"card-payment-{p.pk}"),
                                  Cell(p.processor.name)], p.amount, p.currency)
        for p in selectors.payments_to_record(company=company)
    ]
    refunds = [
        Waiting(r.pk, r.refunded_on, [Cell(r.card_payment.invoice.client.name),
                                      _invoice(r.card_payment.invoice, f"refund-{r.pk}"),
                                      Cell(r.card_payment.processor.name)], r.amount, r.currency)
        for r in selectors.refunds_to_record(company=company)
    ]
    disputes = [
        Waiting(m.pk, m.occurred_on, [Cell(m.get_kind_display()), Cell(m.dispute.card_payment.invoice.client.name),
                                      _invoice(m.dispute.card_payment.invoice, f"dispute-{m.dispute_id}")],
                m.amount, m.dispute.currency)
        for m in selectors.dispute_movements_to_record(company=company)
    ]
    payouts = [
        Waiting(p.pk, p.arrival_date, [Cell(p.payout_id, reverse("payout_detail", args=[p.processor_id, p.payout_id])),
                                       Cell(p.processor.name)], p.amount, p.currency)
        for p in selectors.payouts_to_record(company=company)
    ]
    return {
        "payments": ToRecord("payment", "to-record", ["Paid on", "Client", "Invoice", "Processor"],
                             "record_card_payment", "Record payment", payments),
        "refunds": ToRecord("refund", "refunds-to-record", ["Refunded on", "Client", "Invoice", "Processor"],
                            "record_refund", "Record refund", refunds),
        "disputes": ToRecord("dispute-movement", "disputes-to-record", ["Date", "Movement", "Client", "Invoice"],
                             "record_dispute_movement", "Record", disputes),
        "payouts": ToRecord("payout", "payouts-to-record", ["Arrived on", "Payout", "Processor"],
                            "record_payout", "Record payout", payouts),
    }


@member_required(Level.BOOKKEEPER)
@require_GET
def problem_list(request):
    company = request.membership.company
    problems = selectors.open_problems(company=company)
    for problem in problems:
        problem.may_resolve = may_resolve(request.membership, problem)
    return render(
        request,
        "payments/problems.html",
        {**to_record_tables(company), "problems": problems, "today": company.today(), "currency": company.currency},
    )


def _record(request, rows, pk, record: Callable, recorded: Callable[[object], str]):
    """Post one row waiting to be recorded: `record(row, date=…, by=…)` (the date given, or the
    service's own default when none is), then back to Payment problems saying `recorded(row)`."""
    row = access_object(rows, membership=request.membership, pk=pk)
    form = RecordForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a date such as 2026-01-31.")
        return redirect("payment_problems")
    try:
        record(row, date=form.cleaned_data["date"], by=request.user)
    except SettleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, recorded(row))
    return redirect("payment_problems")


@member_required(Level.BOOKKEEPER)
@require_POST
def record_payment(request, payment_id: int):
    """R4: one action posts a payment waiting in Payments to record (dated today unless a date is given)."""
    return _record(
        request, CardPayment.objects.select_related("invoice", "company"), payment_id,
        lambda payment, **when: record_pending_payment(card_payment=payment, **when),
        lambda payment: f"Payment of invoice {payment.invoice.number} recorded.",
    )


@member_required(Level.BOOKKEEPER)
@require_POST
def record_refund(request, refund_id: int):
    """R6: one action posts a refund waiting in Refunds to record (dated today unless a date is given)."""
    return _record(
        request, Refund.objects.select_related("card_payment__invoice"), refund_id,
        lambda refund, **when: record_pending_refund(refund=refund, **when),
        lambda refund: f"Refund on invoice {refund.card_payment.invoice.number} recorded.",
    )


@member_required(Level.BOOKKEEPER)
@require_POST
def record_dispute_movement(request, movement_id: int):
    """R7: one action posts a dispute movement waiting to be recorded (dated today unless a date is given)."""
    return _record(
        request, DisputeMovement.objects.select_related("dispute__card_payment__invoice"), movement_id,
        lambda movement, **when: record_pending_dispute_movement(movement=movement, **when),
        lambda movement: f"Dispute movement on invoice {movement.dispute.card_payment.invoice.number} recorded.",
    )


@member_required(Level.BOOKKEEPER)
@require_POST
def record_payout(request, payout_id: int):
    """R8: one action posts a payout waiting to be recorded (dated today, or its arrival date if later)."""
    return _record(
        request, Payout.objects.select_related("processor"), payout_id,
        lambda payout, **when: record_pending_payout(payout=payout, **when),
        lambda payout: f"Payout {payout.payout_id} recorded.",
    )


ADMIN_ONLY_KINDS = {Problem.Kind.KEY_REJECTED}


def may_resolve(membership, problem: Problem) -> bool:
    """C2: processor problems need Creator/Admin; the others Bookkeeper (the view's level)."""
    return problem.kind not in ADMIN_ONLY_KINDS or membership.at_least(Level.ADMIN)


@member_required(Level.BOOKKEEPER)
@require_POST
def dismiss_problem(request, problem_id: int):
    problem = access_object(Problem.objects.all(), membership=request.membership, pk=problem_id)
    if not may_resolve(request.membership, problem):
        messages.error(
            request,
            "Only a Creator or Admin can mark this problem resolved: it concerns the credit card processor "
            "(Settings > Add-ons).",
        )
    elif problem.kind == Problem.Kind.TO_RECORD and problem.card_payment and problem.card_payment.status == CardPayment.Status.TO_RECORD:
        messages.error(request, "Record the payment first; it is still waiting in Payments to record.")
    elif problem.kind == Problem.Kind.REFUND_TO_RECORD and problem.refund and problem.refund.status == Refund.Status.TO_RECORD:
        messages.error(request, "Record the refund first; it is still waiting in Refunds to record.")
    elif problem.kind == Problem.Kind.DISPUTE_TO_RECORD and problem.dispute and problem.dispute.movements.filter(
        status=DisputeMovement.Status.TO_RECORD
    ).exists():
        messages.error(request, "Record the dispute movement first; it is still waiting in Dispute movements to record.")
    elif problem.kind == Problem.Kind.PAYOUT_TO_RECORD and problem.payout and problem.payout.status == Payout.Status.TO_RECORD:
        messages.error(request, "Record the payout first; it is still waiting in Payouts to record.")
    else:
        resolve_problem(problem=problem)
        messages.success(request, "Problem marked as resolved.")
    return redirect("payment_problems")
