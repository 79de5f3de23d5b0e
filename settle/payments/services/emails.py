"""Emails about card payments: to the business (R2, R3, P7) and the payer's receipt (K6).

Every email goes through the durable outbox (`queue_email`) with an idempotency key,
inside the caller's transaction: the email exists if and only if the change it
reports does, and reporting the same thing twice queues one email.
"""

from django.conf import settings

from settle.core.dates import format_date
from settle.core.money import format_money, quantize
from settle.notifications.services import Email, queue_email, queue_emails

from ..models import CardPayment, PaymentSettings, Problem, Refund


def notification_address(company) -> str:
    """The Payment Notification Email (P7), or "" when none is set."""
    return PaymentSettings.objects.filter(company=company).values_list("notification_email", flat=True).first() or ""


def _app_url(path: str) -> str:
    return f"{settings.PUBLIC_URL}{path}" if settings.PUBLIC_URL else path


def _amount(card_payment: CardPayment) -> str:
    return format_money(quantize(card_payment.amount, card_payment.currency), card_payment.currency)


def notify_payment(*, card_payment: CardPayment) -> None:
    """R2: tell the business a customer paid (client, invoice, amount, processor).

    Key `payment-notification:<id>`: once per card payment, however often it is reported.
    """
    queue_emails(email for email in [payment_notification(card_payment=card_payment)] if email is not None)


def payment_notification(*, card_payment: CardPayment, to: str | None = None) -> Email | None:
    """The email of `notify_payment`, to queue (None without a Payment Notification Email).

    `to`: the Payment Notification Email when the caller has read it already."""
    to = notification_address(card_payment.company) if to is None else to
    if not to:
        return None
    invoice = card_payment.invoice
    amount = _amount(card_payment)
    body = "\n".join(
        [
            f"{invoice.client.name} paid {amount} on invoice {invoice.number} by card.",
            "",
            f"Client: {invoice.client.name}",
            f"Invoice: {invoice.number}",
            f"Amount: {amount}",
            f"Processor: {card_payment.processor.name}",
            f"Date: {format_date(card_payment.paid_on)}",
            f"Card: {card_payment.card_brand.title()} ending {card_payment.card_last4}".rstrip(),
            f"Payment reference: {card_payment.payment_intent_id}",
            "",
            "The payment has been recorded in your books; nothing else needs doing.",
        ]
    )
    return Email(
        key=f"payment-notification:{card_payment.pk}",
        to=to,
        subject=f"Payment received: {amount} from {invoice.client.name} (invoice {invoice.number})",
        body=body,
        company=card_payment.company,
    )


def send_receipt(*, card_payment: CardPayment, receipt) -> None:
    """K6: the payer's receipt, to the address given in the billing dialog, linking its page.

    Key `payment-receipt:<id>`: once per card payment. Sent when the payment is booked (or
    waits in Payments to record: the customer has paid either way).
    """
    queue_emails(email for email in [receipt_email(card_payment=card_payment, receipt=receipt)] if email is not None)


def receipt_email(*, card_payment: CardPayment, receipt) -> Email | None:
    """The email of `send_receipt`, to queue (None when the payer gave no address)."""
    from django.urls import reverse

    to = card_payment.billing_email.strip()
    if not to:
        return None
    invoice = card_payment.invoice
    company = card_payment.company
    amount = _amount(card_payment)
    card = f"{card_payment.card_brand.title()} ending {card_payment.card_last4}".strip() if card_payment.card_last4 else ""
    body = "\n".join(
        line for line in [
            f"Thank you for your payment to {company.name}.",
            "",
            f"Invoice: {invoice.number}",
            f"Amount paid: {amount}",
            f"Date: {format_date(card_payment.paid_on)}",
            f"Card: {card}" if card else None,
            f"Payment reference: {card_payment.payment_intent_id}",
            "",
            f"Receipt number: {receipt.label}",
            f"Your receipt, to view or print: {_app_url(reverse('sales:receipt', kwargs={'public_id': receipt.public_id}))}",
            "",
            f"Questions about this payment? Contact {company.name}" + (f" at {company.email}." if company.email else "."),
        ] if line is not None
    )
    return Email(
        key=f"payment-receipt:{card_payment.pk}",
        to=to,
        subject=f"Receipt: {amount} paid to {company.name} (invoice {invoice.number})",
        body=body,
        company=company,
    )


def notify_refund(*, refund: Refund) -> None:
    """R6: tell the business a refund was booked. Key `refund-notification:<id>`: once per refund."""
    to = notification_address(refund.company)
    if not to:
        return
    payment = refund.card_payment
    invoice = payment.invoice
    amount = format_money(quantize(refund.amount, refund.currency), refund.currency)
    who = f"by {refund.created_by.full_name or refund.created_by.email}" if refund.created_by_id else (
        "outside Settle (in the Stripe Dashboard or another tool)"
    )
    body = "\n".join(
        [
            f"{amount} of {invoice.client.name}'s card payment on invoice {invoice.number} was refunded {who}.",
            "",
            f"Client: {invoice.client.name}",
            f"Invoice: {invoice.number}",
            f"Refunded: {amount}",
            f"Processor: {payment.processor.name}",
            f"Date: {format_date(refund.refunded_on)}",
            f"Refund reference: {refund.refund_id}",
            f"Payment reference: {payment.payment_intent_id}",
            "",
            "The refund has been recorded in your books and the invoice's balance reopened by the amount refunded.",
        ]
    )
    queue_email(
        key=f"refund-notification:{refund.pk}",
        to=to,
        subject=f"Refund made: {amount} to {invoice.client.name} (invoice {invoice.number})",
        body=body,
        company=refund.company,
    )


def notify_refund_payer(*, refund: Refund) -> None:
    """R6, K6: tell the payer (the payment's billing email) a refund is on its way. Key `refund-receipt:<id>`."""
    payment = refund.card_payment
    to = payment.billing_email.strip()
    if not to:
        return
    company = refund.company
    amount = format_money(quantize(refund.amount, refund.currency), refund.currency)
    card = f"{payment.card_brand.title()} ending {payment.card_last4}".strip() if payment.card_last4 else "your card"
    body = "\n".join(
        [
            f"{company.name} has refunded {amount} of your payment on invoice {payment.invoice.number}.",
            "",
            f"Refunded: {amount} to {card}",
            f"Date: {format_date(refund.refunded_on)}",
            f"Refund reference: {refund.refund_id}",
            "",
            "Refunds usually reach your card statement within 5–10 business days.",
            f"Questions about this refund? Contact {company.name}" + (f" at {company.email}." if company.email else "."),
        ]
    )
    queue_email(
        key=f"refund-receipt:{refund.pk}",
        to=to,
        subject=f"Refund: {amount} from {company.name} (invoice {payment.invoice.number})",
        body=body,
        company=company,
    )


def notify_dispute_closed(*, dispute) -> None:
    """R7: tell the business how a dispute ended. Key `dispute-closed:<id>`: once per dispute."""
    to = notification_address(dispute.company)
    if not to:
        return
    invoice = dispute.card_payment.invoice
    amount = format_money(quantize(dispute.amount, dispute.currency), dispute.currency)
    fee = format_money(quantize(dispute.fee, dispute.currency), dispute.currency)
    won = dispute.status == "won"
    outcome = (
        f"Stripe returned the {amount} to your balance and your books. The {fee} dispute fee stays an expense."
        if won else
        f"Stripe keeps the {amount}; it is booked as an expense (Chargebacks). If the client still owes you, "
        "choose Re-invoice on the invoice page to put the amount back on the invoice's balance due."
    )
    body = "\n".join(
        [
            f"The dispute of {invoice.client.name}'s card payment on invoice {invoice.number} was {dispute.status}.",
            "",
            f"Client: {invoice.client.name}",
            f"Invoice: {invoice.number}",
            f"Disputed: {amount}",
            f"Dispute reference: {dispute.dispute_id}",
            "",
            outcome,
            f"Invoice in Settle: {_app_url(f'/invoices/{invoice.pk}/')}",
        ]
    )
    queue_email(
        key=f"dispute-closed:{dispute.pk}",
        to=to,
        subject=f"Dispute {'won' if won else 'lost'}: {amount} on invoice {invoice.number} ({invoice.client.name})",
        body=body,
        company=dispute.company,
    )


_PROBLEM_SUBJECTS = {
    Problem.Kind.TO_RECORD: "Payment to record",
    Problem.Kind.OVERPAID: "Payment larger than the balance due",
    Problem.Kind.NOT_RECORDABLE: "A card payment could not be recorded",
    Problem.Kind.KEY_REJECTED: "Stripe no longer accepts your key",
    Problem.Kind.REFUND_TO_RECORD: "Refund to record",
    Problem.Kind.REFUND_FAILED: "A card refund failed",
    Problem.Kind.DISPUTE_OPENED: "A card payment is disputed: respond in Stripe",
    Problem.Kind.DISPUTE_TO_RECORD: "Dispute to record",
    Problem.Kind.DISPUTE_LOST: "A dispute was lost",
}


def notify_problem(*, problem: Problem) -> None:
    """R3/R4: tell the business about a problem. Key `payment-problem:<problem key>`."""
    to = notification_address(problem.company)
    if not to:
        return
    subject = _PROBLEM_SUBJECTS.get(problem.kind, "A problem with card payments")
    body = "\n".join(
        [
            problem.message,
            "",
            f"See Payment problems in Settle: {_app_url('/payments/problems/')}",
        ]
    )
    queue_email(
        key=f"payment-problem:{problem.key}",
        to=to,
        subject=f"{subject} — {problem.company.name}",
        body=body,
        company=problem.company,
    )
