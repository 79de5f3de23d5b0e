"""Disputes (chargebacks) of card payments, in the books exactly once (R7).

Stripe reports a dispute by webhook (`charge.dispute.created`, `.funds_withdrawn`, `.closed`,
`.funds_reinstated`) and the sweep finds those no webhook brought (`sweep_disputes`). Every
path ends in `sync_dispute` with what the processor says about the dispute *now*: the
dispute and its balance transactions are re-read from the processor, and every amount
booked comes from those balance transactions (never from an event's snapshot). Only
disputes of card payments Settle booked, in the processor's company and Stripe account.

Exactly once: one Dispute row per company, Stripe account and dispute id
(`one_row_per_dispute`), and one DisputeMovement per dispute and kind
(`one_movement_per_dispute_kind`) and per balance transaction
(`one_movement_per_balance_transaction`). However many deliveries, in whatever order, each
movement is booked once.

Movements and their entries (the deposit account is that of the processor that booked the
card payment):
- withdrawal (dispute opened): debit Disputed Payments (amount), debit Credit Card
  Processing Fees (the dispute fee), credit the deposit account;
- reinstatement (won): debit the deposit account, credit Disputed Payments; the fee stays an
  expense;
- loss (lost): debit Chargebacks, credit Disputed Payments, for what stays withdrawn;
- reinvoice (lost, chosen by the business from the invoice page, once): debit the invoice's
  receivable account, credit Chargebacks; the invoice's balance reopens
  (`balances.remove_payment`).

A movement dated on or before the period lock (or whose card payment or earlier movement
still waits) waits in "to record" with a `dispute_to_record` problem, like refunds;
`record_pending_dispute_movement` posts it later.

Locking contract: the same as `recording.py` and `refunds.py` (the invoice row first, then
the period-lock row inside the ledger); the dispute's row is locked after the invoice's.
No transaction is open during processor calls.
"""

import datetime as dt
import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from settle.core.dates import format_date
from settle.core.errors import SettleError
from settle.core.money import format_money, quantize
from settle.ledger.models import AccountRole
from settle.ledger.services import Line, RoleAccounts, lock_end_date, post_journal_entry
from settle.sales.models import Invoice
from settle.sales.services.balances import remove_payment

from ..models import CardPayment, Dispute, DisputeMovement, Problem, Processor
from ..processors.base import DisputeInfo, KeyRejected, ProcessorClient, ProcessorError, ProcessorUnavailable
from .emails import notify_dispute_closed
from .problems import raise_problem
from .recording import payment_date
from .refunds import payment_of_charge

log = logging.getLogger(__name__)

Kind = DisputeMovement.Kind
# The order movements are booked in: a later one waits while an earlier one does.
ORDER = {Kind.WITHDRAWAL: 0, Kind.REINSTATEMENT: 1, Kind.LOSS: 1, Kind.REINVOICE: 2}
STATUS_LABELS = {
    "warning_needs_response": "Inquiry: respond",
    "warning_under_review": "Inquiry under review",
    "warning_closed": "Inquiry closed",
    "needs_response": "Open: respond",
    "under_review": "Under review",
    "won": "Won",
    "lost": "Lost",
}


def _fmt(amount: Decimal, currency: str) -> str:
    return format_money(quantize(amount, currency), currency)


def status_label(dispute: Dispute) -> str:
    return STATUS_LABELS.get(dispute.status, dispute.status.replace("_", " ").capitalize())


# -- from the processor's answer to the books ------------------------------------------------------

def _ours(card_payment: CardPayment, info: DisputeInfo) -> bool:
    same = (info.payment_intent_id and info.payment_intent_id == card_payment.payment_intent_id) or (
        info.charge_id and card_payment.charge_id and info.charge_id == card_payment.charge_id
    )
    return bool(same) and info.currency.upper() == card_payment.currency.upper()


def sync_dispute(*, card_payment: CardPayment, info: DisputeInfo) -> Dispute | None:
    """Bring the dispute `info` of `card_payment` into the books: its row, each movement once (R7).

    Returns the Dispute row (new or already there), or None when `info` is not a dispute of
    this payment. A new dispute raises the `dispute_opened` problem (and its email) with the
    evidence due date; a dispute seen closed for the first time tells the owner (won: an
    email; lost: the `dispute_lost` problem offering to re-invoice). One transaction.
    """
    if not _ours(card_payment, info):
        return None
    company = card_payment.company
    with transaction.atomic():
        invoice = _lock_invoice(card_payment.invoice_id)
        payment = CardPayment.objects.select_related("company", "processor", "processor__deposit_account").get(
            pk=card_payment.pk
        )
        dispute, created = _dispute_row(payment, info)
        Dispute.objects.select_for_update().filter(pk=dispute.pk).first()
        dispute = Dispute.objects.select_related("company", "card_payment", "card_payment__processor").get(pk=dispute.pk)
        was_open = created or dispute.is_open
        withdrawals = [t for t in info.transactions if t.kind == "withdrawal" and t.amount < 0]
        dispute.status = info.status[:32]
        dispute.reason = info.reason[:64]
        dispute.evidence_due_by = info.evidence_due_by
        dispute.amount = quantize(info.amount, payment.currency)
        if withdrawals:
            dispute.fee = quantize(sum((t.fee for t in withdrawals), Decimal("0")), payment.currency)
        dispute.save(update_fields=["status", "reason", "evidence_due_by", "amount", "fee", "updated_at"])
        if created and dispute.is_open:
            _tell_opened(dispute, invoice)

        for txn in sorted(info.transactions, key=lambda t: (t.created, t.kind != "withdrawal")):
            kind = Kind.WITHDRAWAL if txn.kind == "withdrawal" else Kind.REINSTATEMENT
            amount = -txn.amount if kind == Kind.WITHDRAWAL else txn.amount
            if amount <= 0:
                continue
            _movement(dispute, invoice, kind=kind, amount=amount, fee=txn.fee,
                      date=payment_date(company, txn.created), transaction_id=txn.transaction_id)
        if info.status == "lost":
            held = -sum((t.amount for t in info.transactions), Decimal("0"))
            if held > 0:
                first = dispute.movements.filter(kind=Kind.WITHDRAWAL).values_list("occurred_on", flat=True).first()
                date = max(company.today(), first or dispute.disputed_on)
                _movement(dispute, invoice, kind=Kind.LOSS, amount=held, fee=Decimal("0"), date=date)
        if was_open and not dispute.is_open:
            _tell_closed(dispute, invoice)
        return dispute


def _lock_invoice(invoice_id) -> Invoice:
    Invoice.objects.select_for_update().filter(pk=invoice_id).first()
    return Invoice.objects.select_related("client", "receivable_account", "company").get(pk=invoice_id)


def _dispute_row(payment: CardPayment, info: DisputeInfo) -> tuple[Dispute, bool]:
    match = dict(company_id=payment.company_id, stripe_account=payment.stripe_account, dispute_id=info.dispute_id)
    existing = Dispute.objects.filter(**match).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():  # savepoint: a racing delivery may win the insert
            return Dispute.objects.create(
                **match, card_payment=payment, amount=quantize(info.amount, payment.currency),
                currency=payment.currency.upper(), status=info.status[:32], reason=info.reason[:64],
                disputed_on=payment_date(payment.company, info.created), evidence_due_by=info.evidence_due_by,
            ), True
    except IntegrityError:
        return Dispute.objects.get(**match), False


def _movement(dispute: Dispute, invoice: Invoice, *, kind: str, amount: Decimal, fee: Decimal, date: dt.date,
              transaction_id: str = "", by=None) -> DisputeMovement:
    """The movement `kind` of the dispute, created and booked (or left waiting) once. Caller holds the invoice lock."""
    currency = dispute.currency
    existing = DisputeMovement.objects.filter(dispute=dispute, kind=kind).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():  # savepoint: the unique constraints decide a race
            movement = DisputeMovement.objects.create(
                company_id=dispute.company_id, dispute=dispute, kind=kind, balance_transaction_id=transaction_id,
                amount=quantize(amount, currency), fee=quantize(fee, currency), occurred_on=date,
                status=DisputeMovement.Status.TO_RECORD, created_by=by,
            )
    except IntegrityError:
        return DisputeMovement.objects.get(dispute=dispute, kind=kind)
    why = _why_it_waits(movement, date)
    if why:
        _raise_to_record(movement, invoice, why=why)
        return movement
    try:
        with transaction.atomic():  # savepoint: a refused posting leaves the movement waiting
            _post(movement, invoice, date=date, created_by=by)
    except SettleError as exc:
        movement.status, movement.journal_entry, movement.recorded_at = DisputeMovement.Status.TO_RECORD, None, None
        _raise_to_record(movement, invoice, why=f"the ledger refused it: {exc.message} Record it once the cause is "
                                                 "fixed.")
    return movement


def _why_it_waits(movement: DisputeMovement, date: dt.date) -> str:
    payment = movement.dispute.card_payment
    if payment.status != CardPayment.Status.RECORDED:
        return "the card payment it concerns is not recorded yet. Record the payment first, then this."
    earlier = [k for k, rank in ORDER.items() if rank < ORDER[movement.kind]]
    if DisputeMovement.objects.filter(dispute_id=movement.dispute_id, kind__in=earlier,
                                      status=DisputeMovement.Status.TO_RECORD).exists():
        return "an earlier movement of the same dispute waits to be recorded. Record that one first, then this."
    end = lock_end_date(company=movement.company, for_update=True)
    if end is not None and date <= end:
        return (f"the books are locked through {format_date(end)}. Record it with one click once you have chosen "
                "an open date.")
    return ""


def _raise_to_record(movement: DisputeMovement, invoice: Invoice, *, why: str) -> None:
    dispute = movement.dispute
    raise_problem(
        company=movement.company,
        kind=Problem.Kind.DISPUTE_TO_RECORD,
        message=(
            f"{movement.get_kind_display()} ({_fmt(movement.amount, dispute.currency)}, "
            f"{format_date(movement.occurred_on)}) for the dispute of {invoice.client.name}'s card payment on invoice "
            f"{invoice.number} waits to be recorded: {why}"
        ),
        key=f"dispute-to-record:{movement.pk}",
        processor=dispute.card_payment.processor,
        card_payment=dispute.card_payment,
        dispute=dispute,
    )


def _post(movement: DisputeMovement, invoice: Invoice, *, date: dt.date, created_by) -> None:
    """Post the movement's entry (see the module docstring). Caller holds the invoice lock."""
    dispute = movement.dispute
    company = movement.company
    deposit = dispute.card_payment.processor.deposit_account
    roles = RoleAccounts(company=company, roles=[AccountRole.DISPUTED_PAYMENTS, AccountRole.CHARGEBACKS, AccountRole.CARD_FEES])
    amount, fee = movement.amount, movement.fee
    ref = f"dispute {dispute.dispute_id}"
    if movement.kind == Kind.WITHDRAWAL:
        moves = [(roles[AccountRole.DISPUTED_PAYMENTS], amount, f"Disputed payment, invoice {invoice.number}"),
                 (roles[AccountRole.CARD_FEES], fee, f"Dispute fee, {ref}") if fee else None,
                 (deposit, -(amount + fee), f"Chargeback withdrawal, {ref}")]
    elif movement.kind == Kind.REINSTATEMENT:
        moves = [(deposit, amount - fee, f"Chargeback reinstated, {ref}"),
                 (roles[AccountRole.CARD_FEES], fee, f"Dispute fee, {ref}") if fee else None,
                 (roles[AccountRole.DISPUTED_PAYMENTS], -amount, f"Dispute won, invoice {invoice.number}")]
    elif movement.kind == Kind.LOSS:
        moves = [(roles[AccountRole.CHARGEBACKS], amount, f"Dispute lost, invoice {invoice.number}"),
                 (roles[AccountRole.DISPUTED_PAYMENTS], -amount, f"Dispute lost, {ref}")]
    else:  # REINVOICE
        moves = [(invoice.receivable_account, amount, f"Chargeback re-invoiced, invoice {invoice.number}"),
                 (roles[AccountRole.CHARGEBACKS], -amount, f"Chargeback re-invoiced, {ref}")]
    lines = [
        Line(account=account, debit=value if value > 0 else Decimal("0"), credit=-value if value < 0 else Decimal("0"),
             description=text, invoice=invoice if account == invoice.receivable_account else None)
        for account, value, text in filter(None, moves) if value
    ]
    entry = post_journal_entry(
        company=company, date=date, lines=lines,
        memo=f"{movement.get_kind_display()}: dispute of card payment on invoice {invoice.number} via "
             f"{dispute.card_payment.processor.name}",
        source=f"dispute:{movement.pk}", created_by=created_by,
    )
    if movement.kind == Kind.REINVOICE:
        remove_payment(invoice=invoice, amount=amount)
    movement.status = DisputeMovement.Status.BOOKED
    movement.journal_entry = entry
    movement.recorded_at = timezone.now()
    movement.save(update_fields=["status", "journal_entry", "recorded_at"])


# -- telling the business ------------------------------------------------------------------------

def evidence_due_on(dispute: Dispute) -> dt.date | None:
    return payment_date(dispute.company, dispute.evidence_due_by) if dispute.evidence_due_by else None


def _tell_opened(dispute: Dispute, invoice: Invoice) -> None:
    due = evidence_due_on(dispute)
    fee = f" and a {_fmt(dispute.fee, dispute.currency)} dispute fee" if dispute.fee else ""
    reason = f" (reason: {dispute.reason.replace('_', ' ')})" if dispute.reason else ""
    when = f"before {format_date(due)}" if due else "as soon as you can"
    raise_problem(
        company=dispute.company,
        kind=Problem.Kind.DISPUTE_OPENED,
        message=(
            f"{invoice.client.name}'s bank disputed {_fmt(dispute.amount, dispute.currency)} of the card payment on "
            f"invoice {invoice.number}{reason}. Stripe took the amount{fee} back from your balance; Settle books the "
            f"amount to Disputed Payments until the dispute ends. Respond in the Stripe Dashboard (Payments > Disputes, dispute "
            f"{dispute.dispute_id}) {when}: submit evidence that the payment was genuine, such as the invoice, the "
            "receipt, proof of delivery and your messages with the client. Without a response by then, the dispute "
            "is lost."
        ),
        key=f"dispute-opened:{dispute.pk}",
        processor=dispute.card_payment.processor,
        card_payment=dispute.card_payment,
        dispute=dispute,
    )


def _tell_closed(dispute: Dispute, invoice: Invoice) -> None:
    Problem.objects.filter(dispute=dispute, kind=Problem.Kind.DISPUTE_OPENED, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )
    notify_dispute_closed(dispute=dispute)
    if dispute.status == "lost":
        raise_problem(
            company=dispute.company,
            kind=Problem.Kind.DISPUTE_LOST,
            message=(
                f"The dispute of {_fmt(dispute.amount, dispute.currency)} on invoice {invoice.number} "
                f"({invoice.client.name}) was lost: Stripe keeps the amount, now booked as an expense (Chargebacks). "
                "If the client still owes you, choose Re-invoice on the invoice page: the amount goes back on the "
                "invoice's balance due."
            ),
            key=f"dispute-lost:{dispute.pk}",
            processor=dispute.card_payment.processor,
            card_payment=dispute.card_payment,
            dispute=dispute,
        )


# -- the business's actions ------------------------------------------------------------------------

def _lock(movement_or_dispute) -> tuple[Invoice, Dispute]:
    if isinstance(movement_or_dispute, DisputeMovement):
        dispute_id = movement_or_dispute.dispute_id
    else:
        dispute_id = movement_or_dispute.pk
    invoice_id = Dispute.objects.filter(pk=dispute_id).values_list("card_payment__invoice_id", flat=True).get()
    invoice = _lock_invoice(invoice_id)
    Dispute.objects.select_for_update().filter(pk=dispute_id).first()
    dispute = Dispute.objects.select_related(
        "company", "card_payment", "card_payment__processor", "card_payment__processor__deposit_account"
    ).get(pk=dispute_id)
    return invoice, dispute


def reinvoice_lost_dispute(*, dispute: Dispute, by=None) -> DisputeMovement:
    """R7: the business chooses to collect a lost dispute from the client again: once.

    Moves what the chargeback booked to Chargebacks back to the invoice's receivable account
    (dated today) and reopens the invoice's balance by it. Refuses (SettleError, nothing
    changed): a dispute not lost, its chargeback still waiting, one already re-invoiced, a
    void invoice, today inside the period lock (PeriodLocked).
    """
    with transaction.atomic():
        invoice, row = _lock(dispute)
        loss = row.movements.filter(kind=Kind.LOSS).first()
        if row.status != "lost" or loss is None:
            raise SettleError("Only a lost dispute can be re-invoiced.")
        if row.movements.filter(kind=Kind.REINVOICE).exists():
            raise SettleError("This dispute has already been re-invoiced.")
        if loss.status != DisputeMovement.Status.BOOKED:
            raise SettleError("Record the lost dispute's chargeback first (Payment problems); then re-invoice it.")
        if invoice.is_void:
            raise SettleError("This invoice is void; issue a new invoice to collect the amount.")
        try:
            with transaction.atomic():
                movement = DisputeMovement.objects.create(
                    company_id=row.company_id, dispute=row, kind=Kind.REINVOICE, amount=loss.amount,
                    occurred_on=row.company.today(), status=DisputeMovement.Status.TO_RECORD, created_by=by,
                )
        except IntegrityError:
            raise SettleError("This dispute has already been re-invoiced.") from None
        _post(movement, invoice, date=movement.occurred_on, created_by=by)
        Problem.objects.filter(dispute=row, kind=Problem.Kind.DISPUTE_LOST, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        return movement


def record_pending_dispute_movement(*, movement: DisputeMovement, date: dt.date | None = None, by=None):
    """Post a dispute movement waiting to be recorded, dated `date` (default the company's today).

    The date lies between the movement's day and today. Refuses a movement already
    recorded, one whose card payment or earlier movement still waits, and a locked date
    (PeriodLocked, the ledger's sentence). Same locking contract as `sync_dispute`.
    """
    with transaction.atomic():
        invoice, _ = _lock(movement)
        DisputeMovement.objects.select_for_update().filter(pk=movement.pk).first()
        row = DisputeMovement.objects.select_related(
            "company", "dispute", "dispute__company", "dispute__card_payment", "dispute__card_payment__processor",
            "dispute__card_payment__processor__deposit_account",
        ).get(pk=movement.pk)
        if row.status != DisputeMovement.Status.TO_RECORD:
            raise SettleError("This dispute movement has already been recorded.")
        if row.dispute.card_payment.status != CardPayment.Status.RECORDED:
            raise SettleError("Record the card payment this dispute is about first; then record this.")
        earlier = [k for k, rank in ORDER.items() if rank < ORDER[row.kind]]
        if DisputeMovement.objects.filter(dispute_id=row.dispute_id, kind__in=earlier,
                                          status=DisputeMovement.Status.TO_RECORD).exists():
            raise SettleError("Record the dispute's earlier movement first (funds withdrawn); then this one.")
        today = row.company.today()
        date = date or today
        if date > today:
            raise SettleError(f"The date cannot be after today ({format_date(today)}).", field="date")
        if date < row.occurred_on:
            raise SettleError(f"The date cannot be before the day of the movement ({format_date(row.occurred_on)}).",
                              field="date")
        _post(row, invoice, date=date, created_by=by)
        Problem.objects.filter(key=f"dispute-to-record:{row.pk}", resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        return row


# -- webhooks and the sweep ------------------------------------------------------------------------

def payment_of_dispute(*, processor: Processor, info: DisputeInfo) -> CardPayment | None:
    return payment_of_charge(processor=processor, charge_id=info.charge_id, payment_intent_id=info.payment_intent_id)


def book_dispute_by_id(*, processor: Processor, client: ProcessorClient, dispute_id: str) -> Dispute | None:
    """A `charge.dispute.*` event: re-read the dispute from the processor and sync it. None if not Settle's."""
    info = client.retrieve_dispute(dispute_id)
    payment = payment_of_dispute(processor=processor, info=info)
    if payment is None:
        return None
    return sync_dispute(card_payment=payment, info=info)


def _state(company_id, stripe_account, dispute_id) -> tuple:
    row = Dispute.objects.filter(company_id=company_id, stripe_account=stripe_account, dispute_id=dispute_id).first()
    if row is None:
        return ()
    return (row.status, tuple(row.movements.order_by("pk").values_list("kind", "status")))


def sweep_disputes(*, processor: Processor, client: ProcessorClient, since: dt.datetime) -> list[Dispute]:
    """The sweep: disputes created after `since`, and every dispute Settle still has open, re-read and synced.

    Returns the disputes this run changed (a new row, movement or status). Raises
    ProcessorError when the processor cannot be asked.
    """
    infos = {info.dispute_id: info for info in client.list_disputes(created_after=since)}
    still_open = Dispute.objects.filter(company_id=processor.company_id).exclude(status__in=["won", "lost", "warning_closed"])
    if processor.account_id:
        still_open = still_open.filter(stripe_account__in=[processor.account_id, ""])
    for dispute_id in still_open.exclude(dispute_id__in=list(infos)).values_list("dispute_id", flat=True):
        try:
            infos[dispute_id] = client.retrieve_dispute(dispute_id)
        except (KeyRejected, ProcessorUnavailable):
            raise
        except ProcessorError as exc:  # e.g. a dispute of another Stripe account: this key cannot read it
            log.warning("Dispute %s cannot be read through processor %s: %s", dispute_id, processor.pk, exc.message)
    changed = []
    for info in infos.values():
        payment = payment_of_dispute(processor=processor, info=info)
        if payment is None:
            continue
        before = _state(payment.company_id, payment.stripe_account, info.dispute_id)
        dispute = sync_dispute(card_payment=payment, info=info)
        if dispute is not None and _state(payment.company_id, payment.stripe_account, info.dispute_id) != before:
            changed.append(dispute)
    return changed


# -- check_ledger -----------------------------------------------------------------------------------

def dispute_faults(*, company=None) -> list[str]:
    """check_ledger (R7): every booked dispute movement has its own entry; a dispute returns no more than it took."""
    movements = DisputeMovement.objects.order_by()
    if company is not None:
        movements = movements.filter(company=company)
    faults = []
    taken: dict[int, Decimal] = {}
    returned: dict[int, Decimal] = {}
    for row in movements.filter(status=DisputeMovement.Status.BOOKED).values(
        "pk", "company_id", "kind", "amount", "dispute_id", "dispute__dispute_id", "journal_entry__source",
        "journal_entry__company_id",
    ):
        if row["journal_entry__source"] != f"dispute:{row['pk']}" or row["journal_entry__company_id"] != row["company_id"]:
            faults.append(
                f"Dispute movement {row['pk']} ({row['kind']} of dispute {row['dispute__dispute_id']}, company "
                f"{row['company_id']}) is booked but has no entry of its own."
            )
        if row["kind"] == Kind.WITHDRAWAL:
            taken[row["dispute_id"]] = taken.get(row["dispute_id"], Decimal("0")) + row["amount"]
        elif row["kind"] in (Kind.REINSTATEMENT, Kind.LOSS):
            returned[row["dispute_id"]] = returned.get(row["dispute_id"], Decimal("0")) + row["amount"]
    for dispute_id, amount in returned.items():
        if amount > taken.get(dispute_id, Decimal("0")):
            faults.append(f"Dispute id {dispute_id} clears {amount} from Disputed Payments but booked "
                          f"{taken.get(dispute_id, Decimal('0'))} withdrawn.")
    return faults
