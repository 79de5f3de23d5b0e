"""At most one payable Checkout Session per invoice (K4, R1).

A Checkout Session fixes its amount when it is opened. A session left open after the
balance changed (a cheque recorded, another session paid) could still be paid later,
charging the customer twice. So:

- before Pay Now opens a new session, every other open session of the invoice is
  expired at the processor (`retire_session` on each, called by `checkout.start_checkout`);
- after a payment is recorded, the invoice's other open sessions are expired, once the
  recording transaction has committed (`retire_open_sessions`, scheduled with
  `transaction.on_commit` by `recording.record_card_payment`; best effort, errors logged);
- after anything else changes what the invoice's customer owes (a manual payment, a
  revised invoice), its open sessions are retired the same way (`retire_open_sessions`,
  scheduled with `transaction.on_commit` by the sales services; K4);
- when a company's subscription stops being valid, every open session of the company is
  retired (`retire_company_sessions`, scheduled by `companies.services.set_subscription`;
  C3), so a customer's already-open card form cannot be paid either.

Expiring a session that the customer has just paid fails at the processor (Stripe only
expires *open* sessions). That session is then read back and, if paid, RECORDED like any
other payment (idempotent `record_card_payment`), never ignored: the caller then decides
again with the new balance.

No database transaction is held across a processor call.
"""

from __future__ import annotations

import logging

from ..models import CheckoutSession
from ..processors import client_for
from ..processors.base import KeyRejected, ProcessorError, ProcessorUnavailable

log = logging.getLogger(__name__)


class Retired:
    """What closing a session found: it was expired by us, or it had already ended."""

    EXPIRED = "expired"  # open until now; expired at the processor by us
    PAID = "paid"  # it had been paid: the payment is now recorded
    ENDED = "ended"  # already expired, or complete but not paid yet (delayed methods)


def retire_session(row: CheckoutSession) -> str:
    """Close one of our open sessions at its processor and return a `Retired` value.

    Raises KeyRejected or ProcessorUnavailable when the processor could not be asked,
    and ProcessorError when it refuses to expire a session it still reports as open:
    in those cases the row stays open (the session may still be payable).
    """
    from .recording import NotOurPayment, record_card_payment

    client = client_for(row.processor)
    try:
        client.expire_checkout_session(row.session_id)
    except (KeyRejected, ProcessorUnavailable):
        raise
    except ProcessorError as refused:
        # Stripe expires only open sessions: find out what this one became.
        try:
            info = client.retrieve_checkout_session(row.session_id)
        except (KeyRejected, ProcessorUnavailable):
            raise
        except ProcessorError as exc:
            # The account does not know the session (e.g. deleted test data): it cannot be paid.
            log.warning("Checkout session %s of processor %s cannot be read: %s", row.session_id,
                        row.processor_id, exc.message)
            _mark(row, CheckoutSession.Status.EXPIRED)
            return Retired.ENDED
        if info.status == CheckoutSession.Status.OPEN:
            raise refused
        _mark(row, info.status)
        if not info.paid:
            return Retired.ENDED
        result = client.payment_result(row.session_id)
        if result is None:  # pragma: no cover - paid a moment ago, so it has a result
            return Retired.ENDED
        try:
            record_card_payment(processor=row.processor, result=result)
        except NotOurPayment:  # pragma: no cover - our rows are our sessions
            pass
        return Retired.PAID
    _mark(row, CheckoutSession.Status.EXPIRED)
    return Retired.EXPIRED


def _mark(row: CheckoutSession, status: str) -> None:
    status = status if status in CheckoutSession.Status.values else CheckoutSession.Status.EXPIRED
    # Never move a row back from complete (the recording service may have marked it meanwhile).
    CheckoutSession.objects.filter(pk=row.pk).exclude(status=CheckoutSession.Status.COMPLETE).update(status=status)
    row.status = status


def open_sessions(*, invoice_id: int, exclude_pks=()) -> list[CheckoutSession]:
    """Our rows of the invoice's sessions still believed open, oldest first."""
    return list(
        CheckoutSession.objects.select_related("processor", "processor__company", "processor__deposit_account")
        .filter(link__invoice_id=invoice_id, status=CheckoutSession.Status.OPEN)
        .exclude(pk__in=list(exclude_pks))
        .order_by("created_at", "pk")
    )


def _retire_best_effort(rows, *, why: str) -> None:
    for row in rows:
        try:
            retire_session(row)
        except ProcessorError as exc:
            log.warning("Could not expire checkout session %s of processor %s %s: %s",
                        row.session_id, row.processor_id, why, exc.message)
        except Exception:  # noqa: BLE001 - best effort after commit; what committed is safe
            log.exception("Expiring checkout session %s %s failed", row.session_id, why)


def retire_open_sessions(*, invoice_id: int, except_session_id: str = "") -> None:
    """Expire the invoice's open sessions (but `except_session_id`) at their processors (K4; best effort).

    For after a change of what the customer owes has committed (a payment recorded, the
    invoice revised): a session's amount was fixed when it opened. Run from
    `transaction.on_commit`, outside any transaction. Failures are logged, not raised (what
    committed is safe; a session that could not be expired closes at its `expires_at`, at
    most an hour after it opened, and one paid meanwhile is still recorded by its webhook or
    reconciliation, with an `overpaid` problem if it paid too much).
    """
    rows = [row for row in open_sessions(invoice_id=invoice_id) if row.session_id != except_session_id]
    _retire_best_effort(rows, why=f"of invoice {invoice_id}")


def retire_company_sessions(*, company_id: int) -> None:
    """C3: expire every open session of the company's invoices (best effort, errors logged).

    Called after a subscription stopped being valid has committed, outside any transaction:
    the links are inactive, so no card form opened before may still be paid. A session found
    paid meanwhile is recorded (see `retire_session`).
    """
    rows = list(
        CheckoutSession.objects.select_related("processor", "processor__company", "processor__deposit_account")
        .filter(link__invoice__company_id=company_id, status=CheckoutSession.Status.OPEN)
        .order_by("created_at", "pk")
    )
    _retire_best_effort(rows, why=f"of company {company_id} (subscription not valid)")
