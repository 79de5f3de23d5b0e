"""Payouts of the Stripe balance to the bank, in the books exactly once (R8).

Stripe pays the balance out to the business's bank every few days. A payout reaches Settle
two ways: the `payout.paid` / `payout.failed` webhooks, and the sweep, which lists the
payouts of the last days (`sweep_payouts`). Both end in `book_payout`, with what the
processor says about the payout now (never an event's snapshot).

The payout id is the one key: at most one Payout row per company, Stripe account and payout
id (`one_booking_per_payout`), so however many paths hear of a payout, and in whatever
order, it is booked once; a payout that fails after it was booked is reversed once (the
row's status moves from BOOKED to REVERSED under its row lock).

A booked payout posts: debit the processor's *Payouts go to* bank account, credit its
deposit account, for the payout's amount, dated the payout's arrival date (Stripe's date,
taken in UTC as Stripe gives it). An arrival date on or before the period lock leaves the
payout waiting (TO_RECORD) with a problem, as for payments and refunds; one click records it
on an open date.

After booking, the payout's balance transactions are compared with what Settle booked for
each (`selectors.payout_statement`): a charge Settle never booked, or an amount that
differs, raises a `payout_difference` problem (once per payout).

Locking contract: the payout's row, then the period-lock row inside the ledger. No
transaction is open during a call to the processor.
"""

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from settle.core.dates import format_date
from settle.core.errors import PeriodLocked, SettleError
from settle.core.money import format_money, quantize
from settle.ledger.services import Line, lock_end_date, post_journal_entry, reverse_journal_entry

from ..models import Payout, Problem, Processor
from ..processors.base import PayoutInfo, ProcessorClient, ProcessorError
from .problems import raise_problem

log = logging.getLogger(__name__)


def _fmt(amount, currency: str) -> str:
    return format_money(quantize(amount, currency), currency)


def arrival_date(info: PayoutInfo) -> dt.date:
    """The day the payout reaches the bank: Stripe's arrival date, a UTC date."""
    return info.arrival_date


def _row(processor: Processor, payout_id: str) -> Payout | None:
    return Payout.objects.filter(
        company_id=processor.company_id, stripe_account=processor.account_id, payout_id=payout_id
    ).first()


def book_payout(*, processor: Processor, info: PayoutInfo, client: ProcessorClient | None = None) -> Payout | None:
    """Book the payout `info` of `processor` once, or reverse it once if it has failed (R8).

    Returns the Payout row (new or already there), or None while the payout is on its way
    (neither paid nor failed). Outcomes:
    - paid, arrival date after the period lock: BOOKED with its entry.
    - paid, arrival date on or before the lock (or the ledger refuses the posting, or the
      processor has no *Payouts go to* account): TO_RECORD and a `payout_to_record` problem;
      `record_pending_payout` posts it later.
    - failed, booked before: reversed once (`reverse_failed_payout`); failed before Settle
      booked it: a FAILED row (nothing posted) and the owner is told.
    With `client`, a newly booked payout's contents are checked against the books.
    """
    if not (info.paid or info.failed) or info.amount <= 0:
        return None
    if info.currency.upper() != processor.company.currency.upper():
        _raise_other_currency(processor, info)
        return None
    if info.failed:
        existing = _row(processor, info.payout_id)
        if existing is None:
            return _failed_unbooked(processor, info)
        try:
            return reverse_failed_payout(payout=existing, failure_code=info.failure_code)
        except PeriodLocked as exc:  # today itself is locked: the sweep tries again
            log.warning("Payout %s failed but cannot be reversed yet: %s", info.payout_id, exc.message)
            return existing

    existing = _row(processor, info.payout_id)
    if existing is not None:
        return existing
    company = processor.company
    on = arrival_date(info)
    with transaction.atomic():
        try:
            with transaction.atomic():  # savepoint: a racing path may win the insert
                payout = Payout.objects.create(
                    company=company, processor=processor, stripe_account=processor.account_id,
                    payout_id=info.payout_id, amount=quantize(info.amount, company.currency),
                    currency=info.currency.upper(), arrival_date=on, bank_account=processor.payout_account,
                    status=Payout.Status.TO_RECORD,
                )
        except IntegrityError:
            return _row(processor, info.payout_id)
        if processor.payout_account_id is None:
            _raise_to_record(payout, why="this processor has no bank account for payouts. Choose one under "
                                         "Settings > Add-ons (Payouts go to), then record it.")
            return payout
        end = lock_end_date(company=company, for_update=True)
        if end is not None and on <= end:
            _raise_to_record(payout, why=f"the books are locked through {format_date(end)}, so it was not recorded. "
                                         "Record it with one click once you have chosen an open date.")
            return payout
        try:
            with transaction.atomic():  # savepoint: a refused posting leaves the payout waiting
                _post(payout=payout, date=on)
        except SettleError as exc:
            payout.status, payout.journal_entry, payout.recorded_at = Payout.Status.TO_RECORD, None, None
            _raise_to_record(payout, why=f"it could not be recorded: {exc.message} Record it once the cause is fixed.")
    if client is not None:
        check_payout(payout=payout, client=client)
    return payout


def _post(*, payout: Payout, date: dt.date, created_by=None) -> None:
    """Post the payout's entry. Caller holds the payout's row (or created it in this transaction)."""
    processor = payout.processor
    amount = quantize(payout.amount, payout.company.currency)
    entry = post_journal_entry(
        company=payout.company,
        date=date,
        lines=[
            Line(account=payout.bank_account, debit=amount, description=f"Payout {payout.payout_id}"),
            Line(account=processor.deposit_account, credit=amount, description=f"Payout {payout.payout_id}"),
        ],
        memo=f"{processor.name} payout {payout.payout_id}",
        source=f"payout:{payout.pk}",
        created_by=created_by,
    )
    payout.status = Payout.Status.BOOKED
    payout.journal_entry = entry
    payout.recorded_at = timezone.now()
    payout.save(update_fields=["status", "journal_entry", "recorded_at"])


def _raise_to_record(payout: Payout, *, why: str) -> None:
    raise_problem(
        company=payout.company,
        kind=Problem.Kind.PAYOUT_TO_RECORD,
        message=(
            f"{payout.processor.name} paid out {_fmt(payout.amount, payout.currency)} (payout {payout.payout_id}), "
            f"arriving on {format_date(payout.arrival_date)}, but {why}"
        ),
        key=f"payout-to-record:{payout.pk}",
        processor=payout.processor,
        payout=payout,
    )


def _raise_other_currency(processor: Processor, info: PayoutInfo) -> None:
    raise_problem(
        company=processor.company,
        kind=Problem.Kind.PAYOUT_DIFFERENCE,
        message=(
            f"{processor.name} paid out {_fmt(info.amount, info.currency)} (payout {info.payout_id}) in "
            f"{info.currency}, not in your books' currency ({processor.company.currency}). Record it by hand."
        ),
        key=f"payout-currency:{processor.company_id}:{info.payout_id}"[:200],
        processor=processor,
    )


def _failed_unbooked(processor: Processor, info: PayoutInfo) -> Payout:
    """A payout that failed before Settle booked it: keep a FAILED row (nothing posted) and tell the owner once."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                payout = Payout.objects.create(
                    company=processor.company, processor=processor, stripe_account=processor.account_id,
                    payout_id=info.payout_id, amount=quantize(info.amount, processor.company.currency),
                    currency=info.currency.upper(), arrival_date=arrival_date(info),
                    bank_account=processor.payout_account, status=Payout.Status.FAILED,
                    failed_at=timezone.now(), failure_code=info.failure_code[:100],
                )
        except IntegrityError:
            return _row(processor, info.payout_id)
        _raise_failed(payout, booked=False)
        return payout


def _raise_failed(payout: Payout, *, booked: bool) -> None:
    reason = f" ({payout.failure_code.replace('_', ' ')})" if payout.failure_code else ""
    undone = " Its entry was reversed." if booked else ""
    raise_problem(
        company=payout.company,
        kind=Problem.Kind.PAYOUT_FAILED,
        message=(
            f"The payout of {_fmt(payout.amount, payout.currency)} from {payout.processor.name} to your bank "
            f"(payout {payout.payout_id}) failed{reason}. The money is back in your Stripe balance.{undone} "
            "Check the bank account in your Stripe Dashboard; Stripe pays it out again with the next payout."
        ),
        key=f"payout-failed:{payout.pk}",
        processor=payout.processor,
        payout=payout,
    )


def _lock(payout: Payout) -> Payout:
    Payout.objects.select_for_update().get(pk=payout.pk)
    return Payout.objects.select_related(
        "company", "journal_entry", "bank_account", "processor", "processor__deposit_account"
    ).get(pk=payout.pk)


def record_pending_payout(*, payout: Payout, date: dt.date | None = None, by=None) -> Payout:
    """Post a payout waiting to be recorded, dated `date` (default the company's today).

    The date lies between the arrival date and today (or is the arrival date, when that is
    later than today). Refuses a payout already recorded or failed, a processor without a
    *Payouts go to* account, and a locked date (PeriodLocked, the ledger's sentence).
    """
    with transaction.atomic():
        row = _lock(payout)
        if row.status != Payout.Status.TO_RECORD:
            raise SettleError("This payout has already been recorded, or has failed.")
        if row.bank_account_id is None:
            bank = row.processor.payout_account
            if bank is None:
                raise SettleError("Choose the bank account payouts go to (Settings > Add-ons), then record the payout.")
            row.bank_account = bank
            row.save(update_fields=["bank_account"])
        today = row.company.today()
        date = date or max(today, row.arrival_date)
        if date < row.arrival_date:
            raise SettleError(f"The date cannot be before the payout arrived ({format_date(row.arrival_date)}).",
                              field="date")
        if date > max(today, row.arrival_date):
            raise SettleError(f"The date cannot be after today ({format_date(today)}).", field="date")
        _post(payout=row, date=date, created_by=by)
        Problem.objects.filter(payout=row, kind=Problem.Kind.PAYOUT_TO_RECORD, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        return row


def reverse_failed_payout(*, payout: Payout, failure_code: str = "") -> Payout:
    """The processor reports that a payout failed: undo its booking, once (R8).

    BOOKED: the entry is reversed (dated the company's today, or the entry's date if later;
    when the entry lies in the locked period, a mirror entry dated today is posted instead)
    and the owner is told. TO_RECORD: nothing was posted; it becomes FAILED and its problem
    is resolved. Already REVERSED or FAILED: nothing happens. If today itself is locked the
    payout stays BOOKED and PeriodLocked is raised (the sweep tries again later).
    """
    with transaction.atomic():
        row = _lock(payout)
        if row.status in (Payout.Status.REVERSED, Payout.Status.FAILED):
            return row
        now = timezone.now()
        row.failure_code = (failure_code or "")[:100]
        row.failed_at = now
        if row.status == Payout.Status.TO_RECORD:
            row.status = Payout.Status.FAILED
            row.save(update_fields=["status", "failure_code", "failed_at"])
            Problem.objects.filter(payout=row, resolved_at__isnull=True).update(resolved_at=now)
            _raise_failed(row, booked=False)
            return row
        row.reversal_entry = _reverse_entry(row)
        row.status = Payout.Status.REVERSED
        row.save(update_fields=["status", "reversal_entry", "failure_code", "failed_at"])
        _raise_failed(row, booked=True)
        return row


def _reverse_entry(payout: Payout):
    today = payout.company.today()
    entry = payout.journal_entry
    end = lock_end_date(company=payout.company)
    memo = f"Payout {payout.payout_id} failed"
    if end is None or entry.date > end:
        return reverse_journal_entry(entry=entry, date=max(today, entry.date), memo=memo)
    lines = [
        Line(account=line.account, debit=line.credit, credit=line.debit, description=line.description)
        for line in entry.lines.select_related("account")
    ]
    return post_journal_entry(company=payout.company, date=today, lines=lines, memo=memo,
                              source=f"payout-failed:{payout.pk}")


# -- what the payout contained ------------------------------------------------------------------

def check_payout(*, payout: Payout, client: ProcessorClient) -> Problem | None:
    """Compare the payout's balance transactions with the books; raise `payout_difference` once if they differ.

    Reads the processor (no transaction open). Returns the problem, or None when every
    movement of the payout is booked for the amount Stripe moved (or the processor could
    not be asked: the booking stands, and the payout's page shows any difference).
    """
    from ..clearing import payout_statement

    try:
        statement = payout_statement(processor=payout.processor, client=client, payout_id=payout.payout_id)
    except ProcessorError as exc:  # the booking stands; the payout's page shows any difference later
        log.warning("Could not check the contents of payout %s: %s", payout.payout_id, exc.message)
        return None
    differing = statement.differences
    if not differing:
        return None
    listed = "; ".join(row.explanation for row in differing[:5])
    more = f" and {len(differing) - 5} more" if len(differing) > 5 else ""
    return raise_problem(
        company=payout.company,
        kind=Problem.Kind.PAYOUT_DIFFERENCE,
        message=(
            f"The payout {payout.payout_id} of {_fmt(payout.amount, payout.currency)} from {payout.processor.name} "
            f"contains {len(differing)} movement(s) that differ from your books: {listed}{more}. "
            "Open the payout's page to see each one."
        ),
        key=f"payout-difference:{payout.pk}",
        processor=payout.processor,
        payout=payout,
    )


# -- webhooks and the sweep -------------------------------------------------------------------------

def book_payout_by_id(*, processor: Processor, client: ProcessorClient, payout_id: str) -> Payout | None:
    """`payout.paid` / `payout.failed`: read the payout from the processor and book or reverse it."""
    return book_payout(processor=processor, info=client.retrieve_payout(payout_id), client=client)


def sweep_payouts(*, processor: Processor, client: ProcessorClient, since: dt.datetime) -> list[Payout]:
    """The sweep: book the payouts created after `since` that no webhook brought; reverse those that failed.

    Returns the payouts this run booked, reversed or marked failed. Raises ProcessorError
    when the processor cannot be asked.
    """
    changed = []
    for info in reversed(client.list_payouts(created_after=since)):  # oldest first
        if not (info.paid or info.failed):
            continue
        before = Payout.objects.filter(
            company_id=processor.company_id, stripe_account=processor.account_id, payout_id=info.payout_id
        ).values_list("status", flat=True).first()
        payout = book_payout(processor=processor, info=info, client=client)
        if payout is not None and payout.status != before:
            changed.append(payout)
    return changed
