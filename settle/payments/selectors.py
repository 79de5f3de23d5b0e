"""Reads of the payments app: card payments, receipts, problems (R1–R5, K3, K6)."""

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from settle.core.compiled import CompiledQuery

from .models import CardPayment, Dispute, DisputeMovement, PaymentLink, Payout, Problem, Refund


def card_payment_of_invoice(*, invoice, payment_id) -> CardPayment | None:
    """One booked card payment of `invoice` (a receipt shown from its pay link), or None."""
    return (
        CardPayment.objects.filter(pk=payment_id, invoice=invoice, company_id=invoice.company_id)
        .exclude(status=CardPayment.Status.REVERSED)
        .first()
    )


def receipts_of_invoice(*, invoice) -> list:
    """K6: the receipts of the invoice's card payments a payer may see again, oldest first."""
    from settle.sales.models import Receipt

    return list(
        Receipt.objects.filter(company_id=invoice.company_id, card_payment__invoice=invoice)
        .exclude(card_payment__status=CardPayment.Status.REVERSED)
        .select_related("card_payment")
        .order_by("number")
    )


def card_payments_of_invoice(*, invoice) -> list[CardPayment]:
    """The invoice page's card payments (R1, R5, R6), oldest first, with what each booking shows.

    Each payment carries `refund_rows` (its refunds, oldest first), `refundable` (what a
    new refund may be at most; zero for a payment that cannot be refunded from Settle) and
    `refund_state` (as `services.refunds.refund_state` gives it, for the refund form).
    """
    from decimal import Decimal

    from settle.core.money import quantize, to_minor_units

    payments = _CARD_PAYMENTS.all(invoice_id=invoice.pk, company_id=invoice.company_id)
    if not payments:
        return payments
    refunds: dict[int, list[Refund]] = {}
    for refund in (
        Refund.objects.filter(card_payment__in=payments, company_id=invoice.company_id)
        .select_related("journal_entry", "reversal_entry", "created_by")
        .order_by("created_at", "pk")
    ):
        refunds.setdefault(refund.card_payment_id, []).append(refund)
    disputes: dict[int, list[Dispute]] = {}
    for dispute in (
        Dispute.objects.filter(card_payment__in=payments, company_id=invoice.company_id)
        .select_related("company")
        .prefetch_related("movements", "movements__journal_entry")
        .order_by("created_at", "pk")
    ):
        _describe_dispute(dispute)
        disputes.setdefault(dispute.card_payment_id, []).append(dispute)
    for payment in payments:
        payment.refund_rows = refunds.get(payment.pk, [])
        payment.dispute_rows = disputes.get(payment.pk, [])
        open_amount = sum(
            (r.amount for r in payment.refund_rows if r.status in (Refund.Status.BOOKED, Refund.Status.TO_RECORD)),
            Decimal("0"),
        )
        payment.refund_state = f"{len(payment.refund_rows)}-{to_minor_units(open_amount, payment.currency)}"
        refundable = quantize(payment.amount - open_amount, payment.currency)
        payment.refundable = (
            refundable
            if payment.status == CardPayment.Status.RECORDED and payment.duplicate_of_id is None and refundable > 0
            and not any(d.status != "won" for d in payment.dispute_rows)  # Stripe refuses: the charge is disputed
            else Decimal("0")
        )
    return payments


def _describe_dispute(dispute: Dispute) -> None:
    """R7: what the invoice page shows of a dispute: status, evidence due day, entries, the re-invoice offer."""
    from .services.disputes import evidence_due_on, status_label

    movements = list(dispute.movements.all())
    kinds = {m.kind: m for m in movements}
    dispute.label = status_label(dispute)
    dispute.due_on = evidence_due_on(dispute) if dispute.is_open else None
    dispute.movement_rows = movements
    dispute.waiting = any(m.status == DisputeMovement.Status.TO_RECORD for m in movements)
    loss = kinds.get(DisputeMovement.Kind.LOSS)
    dispute.reinvoiced = DisputeMovement.Kind.REINVOICE in kinds
    dispute.reinvoicable = (
        dispute.status == "lost" and loss is not None and loss.status == DisputeMovement.Status.BOOKED
        and not dispute.reinvoiced
    )
    dispute.lost_amount = loss.amount if loss is not None else None


def refunds_to_record(*, company) -> QuerySet[Refund]:
    """R6: refunds made at the processor that wait in Refunds to record (period locked)."""
    return (
        Refund.objects.filter(company=company, status=Refund.Status.TO_RECORD)
        .select_related("card_payment", "card_payment__invoice", "card_payment__invoice__client",
                        "card_payment__processor")
        .order_by("refunded_on", "pk")
    )


def dispute_movements_to_record(*, company) -> QuerySet[DisputeMovement]:
    """R7: dispute movements Stripe made that wait to be recorded (period locked), oldest first."""
    return (
        DisputeMovement.objects.filter(company=company, status=DisputeMovement.Status.TO_RECORD)
        .select_related("dispute", "dispute__card_payment", "dispute__card_payment__invoice",
                        "dispute__card_payment__invoice__client")
        .order_by("occurred_on", "pk")
    )


def payments_to_record(*, company) -> QuerySet[CardPayment]:
    """R4: card payments that went through but wait in Payments to record."""
    return (
        CardPayment.objects.filter(company=company, status=CardPayment.Status.TO_RECORD, duplicate_of__isnull=True)
        .select_related("invoice", "invoice__client", "processor")
        .order_by("paid_on", "pk")
    )


def payouts_to_record(*, company) -> QuerySet[Payout]:
    """R8: payouts Stripe made that wait to be recorded (period locked, or no bank account), oldest first."""
    return (
        Payout.objects.filter(company=company, status=Payout.Status.TO_RECORD)
        .select_related("processor")
        .order_by("arrival_date", "pk")
    )


def open_problems(*, company) -> list[Problem]:
    """R3: the company's unresolved problems, newest first, with the invoice each concerns."""
    return list(
        Problem.objects.filter(company=company, resolved_at__isnull=True)
        .select_related("processor", "card_payment", "card_payment__invoice", "payout")
        .order_by("-created_at", "-pk")
    )


def open_problem_count(*, company) -> int:
    return Problem.objects.filter(company=company, resolved_at__isnull=True).count()


def open_problem_count_subquery():
    """`open_problem_count` as an expression on a row with a `company` (one query for both)."""
    return Coalesce(
        Subquery(
            Problem.objects.filter(company=OuterRef("company"), resolved_at__isnull=True)
            .order_by()
            .values("company")
            .annotate(n=Count("pk"))
            .values("n")
        ),
        0,
    )


LINK_STATE_LABELS = {
    "void": "Voided",
    "unavailable": "Inactive (subscription not valid)",
    "paid": "Paid, no amount due",
    "no_processor": "No card payment offered",
    "key_rejected": "Inactive (Stripe refuses the key)",
    "payable": "Active",
}


def links_of_invoice(*, invoice) -> list[tuple]:
    """The invoice page's payment links, newest first, each with what its customer would see now (K5, P5)."""
    from .services.links import link_state

    rows = []
    for link in _LINKS.all(invoice_id=invoice.pk, company_id=invoice.company_id):
        state = link_state(link, invoice)
        rows.append((link, state, LINK_STATE_LABELS[state]))
    return rows


# The invoice page's reads, each compiled once (they run on every view of an invoice).
_CARD_PAYMENTS = CompiledQuery(
    lambda invoice_id, company_id: CardPayment.objects.filter(invoice_id=invoice_id, company_id=company_id)
    .select_related("processor", "journal_entry", "reversal_entry", "reversed_by")
    .order_by("created_at", "pk"),
    invoice_id=int, company_id=int,
)
_LINKS = CompiledQuery(
    lambda invoice_id, company_id: PaymentLink.objects.filter(invoice_id=invoice_id, company_id=company_id)
    .order_by("-created_at", "-pk"),
    invoice_id=int, company_id=int,
)
