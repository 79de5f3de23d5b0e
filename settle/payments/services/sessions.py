"""Closing Checkout Sessions at their processor (K4, R1): a leaf, it books nothing.

A Checkout Session fixes its amount when it is opened. A session left open after the
balance changed (a cheque recorded, another session paid) could still be paid later,
charging the customer twice, so Settle keeps at most one payable session per invoice.
`close_session` expires one of Settle's sessions at the processor that opened it and says
what it found; a session that turns out to have been paid is reported as `Retired.PAID`
for the caller to book (`recording.retire_session` does both). Who closes what, and when:

- before Pay Now opens a new session, every other open session of the invoice
  (`checkout.start_checkout`);
- after a payment is booked, or anything else changes what the customer owes (a manual
  payment, a revised invoice), the invoice's other open sessions, once that transaction has
  committed (`recording.retire_open_sessions`);
- when a company's subscription stops being valid, every open session of the company
  (`recording.retire_company_sessions`, C3).

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
    PAID = "paid"  # it had been paid: the caller books it
    ENDED = "ended"  # already expired, or complete but not paid yet (delayed methods)


def close_session(row: CheckoutSession) -> str:
    """Close one of our open sessions at its processor and return a `Retired` value.

    PAID means the session had been paid: the caller books it. Raises KeyRejected or
    ProcessorUnavailable when the processor could not be asked, and ProcessorError when it
    refuses to expire a session it still reports as open: in those cases the row stays open
    (the session may still be payable).
    """
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
        return Retired.PAID if info.paid else Retired.ENDED
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
        _with_processor(CheckoutSession.objects)
        .filter(link__invoice_id=invoice_id, status=CheckoutSession.Status.OPEN)
        .exclude(pk__in=list(exclude_pks))
        .order_by("created_at", "pk")
    )


def company_open_sessions(*, company_id: int) -> list[CheckoutSession]:
    """Our rows of every session of the company still believed open, oldest first."""
    return list(
        _with_processor(CheckoutSession.objects)
        .filter(company_id=company_id, status=CheckoutSession.Status.OPEN)
        .order_by("created_at", "pk")
    )


def _with_processor(queryset):
    return queryset.select_related("processor", "processor__company", "processor__deposit_account", "link")
