"""Card payments and their refunds, disputes (R7) and payouts (R8) (read), payment problems (read, resolve) and processors (read; never the key)."""

import datetime as dt
from typing import Literal

from django.core.exceptions import PermissionDenied
from ninja import Query, Router

from settle.companies.access import access_object
from settle.core.errors import SettleError
from settle.core.money import ZERO
from settle.payments.models import CardPayment, Dispute, Payout, Problem, Processor, Refund
from settle.payments.services.problems import resolve_problem
from settle.payments.services.refunds import OPEN_STATUSES
from settle.payments.views.problems import may_resolve

from ..auth import key_required
from ..pagination import PageParams, page_of, paginate
from ..schemas import (
    CardPaymentOut, DisputeOut, DisputeStatus, Id, PaymentProblemOut, PayoutOut, PayoutStatus, ProcessorOut, RefundOut, RefundStatus, money,
)
from .common import READ_ERRORS, WRITE_ERRORS, Level, company_of

router = Router(tags=["payments"])


def present_refund(refund, invoice_id: int | None = None) -> dict:
    return {
        "id": refund.pk,
        "card_payment_id": refund.card_payment_id,
        "invoice_id": invoice_id if invoice_id is not None else refund.card_payment.invoice_id,
        "refund_id": refund.refund_id,
        "status": refund.status,
        "amount": money(refund.amount, refund.currency),
        "refunded_on": refund.refunded_on,
        "made_in_settle": refund.made_in_settle,
        "journal_entry_id": refund.journal_entry_id,
        "reversal_entry_id": refund.reversal_entry_id,
        "failure_reason": refund.failure_reason,
        "created_at": refund.created_at,
        "recorded_at": refund.recorded_at,
        "failed_at": refund.failed_at,
    }


def present_card_payment(payment) -> dict:
    refunds = sorted(payment.refunds.all(), key=lambda refund: refund.pk)  # prefetched by the lists
    refunded = sum((refund.amount for refund in refunds if refund.status in OPEN_STATUSES), ZERO)
    return {
        "id": payment.pk,
        "invoice_id": payment.invoice_id,
        "processor_id": payment.processor_id,
        "status": payment.status,
        "amount": money(payment.amount, payment.currency),
        "fee": money(payment.fee, payment.currency),
        "paid_on": payment.paid_on,
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "payment_intent_id": payment.payment_intent_id,
        "journal_entry_id": payment.journal_entry_id,
        "refunded": money(refunded, payment.currency),
        "refunds": [present_refund(refund, payment.invoice_id) for refund in refunds],
        "created_at": payment.created_at,
    }


@router.get("/card-payments", response={200: page_of(CardPaymentOut), **READ_ERRORS}, operation_id="list_card_payments")
@key_required(Level.VIEWER)
def list_card_payments(
    request, page: Query[PageParams], status: Literal["recorded", "to_record"] | None = None,
    invoice_id: Id | None = None, paid_from: dt.date | None = None, paid_to: dt.date | None = None,
):
    queryset = CardPayment.objects.filter(company=company_of(request)).prefetch_related("refunds")
    if status:
        queryset = queryset.filter(status=status)
    if invoice_id:
        queryset = queryset.filter(invoice_id=invoice_id)
    if paid_from:
        queryset = queryset.filter(paid_on__gte=paid_from)
    if paid_to:
        queryset = queryset.filter(paid_on__lte=paid_to)
    return paginate(queryset, page, present_card_payment)


@router.get("/card-payments/{payment_id}", response={200: CardPaymentOut, **READ_ERRORS}, operation_id="get_card_payment")
@key_required(Level.VIEWER)
def get_card_payment(request, payment_id: Id):
    return present_card_payment(access_object(CardPayment.objects.prefetch_related("refunds"), membership=request.membership, pk=payment_id))


@router.get("/refunds", response={200: page_of(RefundOut), **READ_ERRORS}, operation_id="list_refunds")
@key_required(Level.VIEWER)
def list_refunds(
    request, page: Query[PageParams], status: RefundStatus | None = None, card_payment_id: Id | None = None,
    invoice_id: Id | None = None, refunded_from: dt.date | None = None, refunded_to: dt.date | None = None,
):
    """Refunds of card payments (R6), newest first: booked, waiting to be recorded, failed or reversed."""
    queryset = Refund.objects.filter(company=company_of(request)).select_related("card_payment")
    if status:
        queryset = queryset.filter(status=status)
    if card_payment_id:
        queryset = queryset.filter(card_payment_id=card_payment_id)
    if invoice_id:
        queryset = queryset.filter(card_payment__invoice_id=invoice_id)
    if refunded_from:
        queryset = queryset.filter(refunded_on__gte=refunded_from)
    if refunded_to:
        queryset = queryset.filter(refunded_on__lte=refunded_to)
    return paginate(queryset, page, present_refund)


@router.get("/refunds/{refund_id}", response={200: RefundOut, **READ_ERRORS}, operation_id="get_refund")
@key_required(Level.VIEWER)
def get_refund(request, refund_id: Id):
    return present_refund(
        access_object(Refund.objects.select_related("card_payment"), membership=request.membership, pk=refund_id)
    )


def present_dispute(dispute) -> dict:
    currency = dispute.currency
    movements = sorted(dispute.movements.all(), key=lambda movement: (movement.created_at, movement.pk))  # prefetched
    return {
        "id": dispute.pk,
        "card_payment_id": dispute.card_payment_id,
        "invoice_id": dispute.card_payment.invoice_id,
        "dispute_id": dispute.dispute_id,
        "amount": money(dispute.amount, currency),
        "fee": money(dispute.fee, currency),
        "status": dispute.status,
        "reason": dispute.reason,
        "disputed_on": dispute.disputed_on,
        "evidence_due_by": dispute.evidence_due_by,
        "movements": [
            {
                "id": movement.pk,
                "kind": movement.kind,
                "amount": money(movement.amount, currency),
                "fee": money(movement.fee, currency),
                "occurred_on": movement.occurred_on,
                "status": movement.status,
                "journal_entry_id": movement.journal_entry_id,
                "recorded_at": movement.recorded_at,
            }
            for movement in movements
        ],
        "created_at": dispute.created_at,
    }


def _disputes():
    return Dispute.objects.select_related("card_payment").prefetch_related("movements")


@router.get("/disputes", response={200: page_of(DisputeOut), **READ_ERRORS}, operation_id="list_disputes")
@key_required(Level.VIEWER)
def list_disputes(
    request, page: Query[PageParams], status: DisputeStatus | None = None,
    card_payment_id: Id | None = None, invoice_id: Id | None = None,
    disputed_from: dt.date | None = None, disputed_to: dt.date | None = None,
):
    """Disputes of card payments (R7), newest first, each with its money in the books."""
    queryset = _disputes().filter(company=company_of(request))
    if status:
        queryset = queryset.filter(status=status)
    if card_payment_id:
        queryset = queryset.filter(card_payment_id=card_payment_id)
    if invoice_id:
        queryset = queryset.filter(card_payment__invoice_id=invoice_id)
    if disputed_from:
        queryset = queryset.filter(disputed_on__gte=disputed_from)
    if disputed_to:
        queryset = queryset.filter(disputed_on__lte=disputed_to)
    return paginate(queryset, page, present_dispute)


@router.get("/disputes/{dispute_id}", response={200: DisputeOut, **READ_ERRORS}, operation_id="get_dispute")
@key_required(Level.VIEWER)
def get_dispute(request, dispute_id: Id):
    return present_dispute(access_object(_disputes(), membership=request.membership, pk=dispute_id))


def present_payout(payout) -> dict:
    return {
        "id": payout.pk,
        "processor_id": payout.processor_id,
        "payout_id": payout.payout_id,
        "amount": money(payout.amount, payout.currency),
        "arrival_date": payout.arrival_date,
        "status": payout.status,
        "bank_account_id": payout.bank_account_id,
        "journal_entry_id": payout.journal_entry_id,
        "reversal_entry_id": payout.reversal_entry_id,
        "failure_code": payout.failure_code,
        "created_at": payout.created_at,
        "recorded_at": payout.recorded_at,
        "failed_at": payout.failed_at,
    }


@router.get("/payouts", response={200: page_of(PayoutOut), **READ_ERRORS}, operation_id="list_payouts")
@key_required(Level.VIEWER)
def list_payouts(
    request, page: Query[PageParams], status: PayoutStatus | None = None, processor_id: Id | None = None,
    arrival_from: dt.date | None = None, arrival_to: dt.date | None = None,
):
    """Payouts of the processors' balances to the bank (R8), newest first, as Settle booked them."""
    queryset = Payout.objects.filter(company=company_of(request))
    if status:
        queryset = queryset.filter(status=status)
    if processor_id:
        queryset = queryset.filter(processor_id=processor_id)
    if arrival_from:
        queryset = queryset.filter(arrival_date__gte=arrival_from)
    if arrival_to:
        queryset = queryset.filter(arrival_date__lte=arrival_to)
    return paginate(queryset, page, present_payout)


@router.get("/payouts/{payout_id}", response={200: PayoutOut, **READ_ERRORS}, operation_id="get_payout")
@key_required(Level.VIEWER)
def get_payout(request, payout_id: Id):
    return present_payout(access_object(Payout.objects.all(), membership=request.membership, pk=payout_id))


def present_problem(problem) -> dict:
    return {
        "id": problem.pk,
        "kind": problem.kind,
        "message": problem.message,
        "processor_id": problem.processor_id,
        "card_payment_id": problem.card_payment_id,
        "created_at": problem.created_at,
        "resolved_at": problem.resolved_at,
    }


@router.get(
    "/payment-problems", response={200: page_of(PaymentProblemOut), **READ_ERRORS}, operation_id="list_payment_problems"
)
@key_required(Level.BOOKKEEPER)
def list_problems(
    request, page: Query[PageParams], status: Literal["open", "resolved"] | None = None,
    created_from: dt.date | None = None, created_to: dt.date | None = None,
):
    queryset = Problem.objects.filter(company=company_of(request))
    if status:
        queryset = queryset.filter(resolved_at__isnull=status == "open")
    if created_from:
        queryset = queryset.filter(created_at__date__gte=created_from)
    if created_to:
        queryset = queryset.filter(created_at__date__lte=created_to)
    return paginate(queryset, page, present_problem)


@router.get(
    "/payment-problems/{problem_id}", response={200: PaymentProblemOut, **READ_ERRORS}, operation_id="get_payment_problem"
)
@key_required(Level.BOOKKEEPER)
def get_problem(request, problem_id: Id):
    return present_problem(access_object(Problem.objects.all(), membership=request.membership, pk=problem_id))


@router.post(
    "/payment-problems/{problem_id}/resolve", response={200: PaymentProblemOut, **WRITE_ERRORS},
    operation_id="resolve_payment_problem",
)
@key_required(Level.BOOKKEEPER)
def resolve(request, problem_id: Id):
    """Mark a problem resolved. A processor problem needs an Admin key (C2), as on the web."""
    problem = access_object(Problem.objects.select_related("card_payment"), membership=request.membership, pk=problem_id)
    if not may_resolve(request.membership, problem):
        raise PermissionDenied(
            "Only a Creator or Admin can mark this problem resolved: it concerns the credit card processor."
        )
    payment = problem.card_payment
    if problem.kind == Problem.Kind.TO_RECORD and payment and payment.status == CardPayment.Status.TO_RECORD:
        raise SettleError("Record the payment first; it is still waiting in Payments to record.")
    return present_problem(resolve_problem(problem=problem))


def present_processor(processor) -> dict:
    return {
        "id": processor.pk,
        "kind": processor.kind,
        "name": processor.name,
        "key_last4": processor.key_last4,
        "account_id": processor.account_id,
        "deposit_account_id": processor.deposit_account_id,
        "connected": processor.is_connected,
        "connected_at": processor.connected_at,
    }


@router.get("/processors", response={200: page_of(ProcessorOut), **READ_ERRORS}, operation_id="list_processors")
@key_required(Level.ADMIN)
def list_processors(request, page: Query[PageParams], connected: bool | None = None):
    queryset = Processor.objects.filter(company=company_of(request))
    if connected is not None:
        queryset = queryset.filter(disconnected_at__isnull=connected)
    return paginate(queryset, page, present_processor)


@router.get("/processors/{processor_id}", response={200: ProcessorOut, **READ_ERRORS}, operation_id="get_processor")
@key_required(Level.ADMIN)
def get_processor(request, processor_id: Id):
    return present_processor(access_object(Processor.objects.all(), membership=request.membership, pk=processor_id))
