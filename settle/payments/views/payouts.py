"""Payouts and the clearing reconciliation (R8). Viewer and up: reading the books.

The pages read the processor (Stripe) for its payouts, balance and balance transactions,
and set them against what Settle booked. Stripe unreachable or refusing the key: the page
says so (nothing changes). A payout Stripe does not know for this processor's key (another
account's, a made-up id) is 404.
"""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from settle.companies.access import access_object, member_required
from settle.companies.models import Level

from .. import clearing
from ..models import Processor
from ..processors import client_for
from ..processors.base import KeyRejected, ProcessorError, ProcessorUnavailable

UNREADABLE = "Stripe could not be reached, so this page cannot show Stripe's side now. Nothing was changed; try again in a moment."


def _processor(request, pk) -> Processor:
    """A processor of the current company (connected or not: its payouts stay in the books), or 404."""
    return access_object(
        Processor.objects.select_related("company", "deposit_account", "payout_account"),
        membership=request.membership, pk=pk,
    )


def _refusal(exc: ProcessorError) -> str:
    if isinstance(exc, KeyRejected):
        return f"{exc.message} Payouts cannot be read until the processor has a key Stripe accepts."
    return UNREADABLE if isinstance(exc, ProcessorUnavailable) else exc.message


@member_required(Level.VIEWER)
@require_GET
def payouts_index(request):
    """The company's processors, each with links to its payouts and its clearing reconciliation."""
    processors = Processor.objects.filter(company=request.membership.company)
    processors = processors.select_related("deposit_account", "payout_account").order_by("disconnected_at", "name", "pk")
    return render(request, "payments/payouts/index.html", {"processors": processors})


@member_required(Level.VIEWER)
@require_GET
def processor_payouts(request, pk: int):
    """A processor's payouts at Stripe, newest first, each with Settle's booking."""
    processor = _processor(request, pk)
    rows, error = [], ""
    try:
        rows = clearing.payouts_of_processor(processor=processor, client=client_for(processor))
    except ProcessorError as exc:
        error = _refusal(exc)
    return render(request, "payments/payouts/list.html", {"processor": processor, "rows": rows, "error": error})


@member_required(Level.VIEWER)
@require_GET
def payout_detail(request, pk: int, payout_id: str):
    """One payout: the payments, refunds, fees and disputes it contained, each against Settle's booking."""
    processor = _processor(request, pk)
    statement, error = None, ""
    try:
        statement = clearing.payout_statement(processor=processor, client=client_for(processor), payout_id=payout_id)
    except (ProcessorUnavailable, KeyRejected) as exc:
        error = _refusal(exc)
    except ProcessorError:
        raise Http404("No such payout.") from None
    return render(request, "payments/payouts/detail.html",
                  {"processor": processor, "statement": statement, "error": error, "payout_id": payout_id[:255]})


@member_required(Level.VIEWER)
@require_GET
def clearing_report(request, pk: int):
    """Settle's deposit account next to Stripe's balance, and the items that explain the difference."""
    processor = _processor(request, pk)
    report, error = None, ""
    try:
        report = clearing.clearing_report(processor=processor, client=client_for(processor))
    except ProcessorError as exc:
        error = _refusal(exc)
    return render(request, "payments/payouts/clearing.html", {"processor": processor, "report": report, "error": error})
