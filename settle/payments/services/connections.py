"""Connecting and disconnecting credit card processors; payment settings (P1–P7).

    connect_stripe_processor(...)   P1–P4: check the key's form, then with Stripe; save it encrypted;
                                    subscribe to webhooks when the site has a public URL
    disconnect_processor(...)       P5: void the links of invoices using it; forget it as a default
    set_default_processor(...)      P6
    set_notification_email(...)     P7
    mark_key_rejected(...)          R3: Stripe no longer accepts a stored key
    rotate_secrets()                re-encrypt every stored secret with the newest ENCRYPTION_KEYS key

Nothing is saved unless the whole change succeeds, and no database transaction is held
across a call to Stripe (on SQLite a write transaction blocks every other writer):
Stripe checks the key before anything is written; the webhook endpoint's URL needs the
processor's id, so a *pending* row (disconnected, hence invisible and outside the name
constraint) is created in a short transaction, the endpoint is created at Stripe, and a
second short transaction makes the processor connected. Any failure deletes the pending
row and the endpoint (best effort), so a failed connect leaves nothing behind.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from settle.core.errors import SettleError
from settle.core.fields import Secret, forget_decrypted, rotate
from settle.ledger.models import Account, AccountRole, AccountType

from ..models import CheckoutSession, PaymentSettings, Problem, Processor
from ..processors import WEBHOOK_EVENTS, base, client_for, client_for_key

logger = logging.getLogger(__name__)

NAME_MAX = Processor._meta.get_field("name").max_length
KEY_MAX = 500  # Stripe does not promise a key length; anything longer is not a key

WHERE_TO_FIND = (
    "Paste your Stripe Live Secret Key (it starts with sk_live_); find it in the Stripe Dashboard "
    "under Developers > API keys."
)
WEBHOOK_PATH = "/payments/webhooks/{processor_id}/"  # settle.payments: URL name "stripe_webhook"


def webhook_url(*, public_url: str, processor_id: int) -> str:
    return public_url.rstrip("/") + WEBHOOK_PATH.format(processor_id=processor_id)


# -- reads -------------------------------------------------------------------------------

def company_processors(*, company) -> QuerySet[Processor]:
    """Every processor the company has connected now (P4), by name."""
    return (
        Processor.objects.filter(company=company, disconnected_at__isnull=True)
        .select_related("deposit_account", "payout_account")
        .order_by("name", "pk")
    )


def processor_deposit_accounts(*, company) -> QuerySet[Account]:
    """P1 "Deposit Payments to": the company's active asset accounts other than receivables."""
    return (
        Account.objects.filter(company=company, type=AccountType.ASSET, is_active=True)
        .exclude(role=AccountRole.RECEIVABLE)
        .order_by("code")
    )


def default_deposit_account(*, company) -> Account | None:
    return processor_deposit_accounts(company=company).filter(role=AccountRole.STRIPE_CLEARING).first()


def processor_payout_accounts(*, company) -> QuerySet[Account]:
    """R8 "Payouts go to": the company's active bank accounts."""
    return Account.objects.filter(company=company, role=AccountRole.BANK, is_active=True).order_by("code")


def default_payout_account(*, company) -> Account | None:
    """R8: the company's first bank account."""
    return processor_payout_accounts(company=company).first()


def _check_payout_account(company, account) -> Account:
    if account is None or not processor_payout_accounts(company=company).filter(pk=account.pk).exists():
        raise SettleError("Choose one of your bank accounts for payouts to go to.", field="payout_account")
    return account


def invoices_using(*, processor: Processor):
    """The invoices whose "Allow credit card payment via" is `processor` (what P5 affects)."""
    from settle.sales.models import Invoice

    return Invoice.objects.filter(card_processor=processor)


def payment_settings(*, company) -> PaymentSettings:
    """The company's PaymentSettings row (unsaved defaults if it has none yet)."""
    return PaymentSettings.objects.filter(company=company).select_related("default_processor").first() or PaymentSettings(
        company=company
    )


# -- P2: the key's form, checked before Stripe is asked -----------------------------------

def check_key_form(raw: str) -> str:
    """The key, stripped, if it has the form of a live secret key; else SettleError saying what it is."""
    key = (raw or "").strip()
    if not key:
        raise SettleError(f"Enter your Stripe Live Secret Key. {WHERE_TO_FIND}", field="secret_key")
    if key.startswith(("pk_live_", "pk_test_")):
        raise SettleError(f"That is a publishable key. {WHERE_TO_FIND}", field="secret_key")
    if key.startswith(("sk_test_", "rk_test_")):
        raise SettleError(
            "That is a test key: it cannot take real payments. "
            f"{WHERE_TO_FIND}",
            field="secret_key",
        )
    if key.startswith("whsec_"):
        raise SettleError(f"That is a webhook signing secret, not an API key. {WHERE_TO_FIND}", field="secret_key")
    if (
        not key.startswith(("sk_live_", "rk_live_"))
        or len(key) > KEY_MAX
        or len(key) <= len("sk_live_")
        or not key.isascii()
        or any(ch.isspace() for ch in key)
    ):
        raise SettleError(f"That is not a Stripe secret key. {WHERE_TO_FIND}", field="secret_key")
    return key


def _clean_name(company, name: str, *, exclude_pk=None, check_clash: bool = True) -> str:
    name = (name or "").strip()
    if not name:
        raise SettleError("Give the processor a name, such as Stripe.", field="name")
    if len(name) > NAME_MAX:
        raise SettleError(f"A processor name has at most {NAME_MAX} characters.", field="name")
    if not check_clash:
        return name
    clash = Processor.objects.filter(company=company, disconnected_at__isnull=True, name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise SettleError(f"You already have a processor named {name}. Choose another name.", field="name")
    return name


def _check_deposit_account(company, account) -> Account:
    if account is None or not processor_deposit_accounts(company=company).filter(pk=account.pk).exists():
        raise SettleError("Choose one of your asset accounts to deposit payments to.", field="deposit_account")
    return account


# -- P1–P4 ---------------------------------------------------------------------------------

def connect_stripe_processor(
    *, company, name: str, deposit_account: Account | None, secret_key: str, created_by, public_url: str | None = None,
    payout_account: Account | None = None,
) -> Processor:
    """Connect a Stripe account to the company (P1–P4) and return the new Processor.

    Order: the form of the key, the name and the deposit account are checked first;
    then Stripe is asked whether it accepts the key (KeyRejected / ProcessorUnavailable
    otherwise, nothing saved) and whose account it is: an account already connected in the
    company is refused (R5), then a name already in use. When `public_url` (default settings.PUBLIC_URL) is set,
    a pending (disconnected) row is created in a short transaction so Stripe's webhooks
    can be subscribed at `{public_url}/payments/webhooks/{pk}/` with no transaction open;
    a second short transaction then connects it. A failed subscription or save deletes the
    pending row and the endpoint (best effort): nothing is kept. The company's first
    processor becomes its default (P6). `payout_account` is where its payouts arrive (R8;
    default the company's first bank account).
    Raises SettleError (with `field`) for anything the user must change.
    """
    public_url = settings.PUBLIC_URL if public_url is None else public_url
    key = check_key_form(secret_key)
    _clean_name(company, name, check_clash=False)
    deposit_account = _check_deposit_account(company, deposit_account)
    payout_account = (_check_payout_account(company, payout_account) if payout_account is not None
                      else default_payout_account(company=company))

    client = client_for_key(key)
    try:
        account = client.retrieve_account()
    except base.KeyRejected as exc:
        raise base.KeyRejected(f"{exc.message} Nothing was saved. {WHERE_TO_FIND}", field="secret_key") from None
    # The same account again says more than "that name is taken" (adding it again under the
    # same name is the usual way it happens), so it is checked first.
    _refuse_account_twice(company, account.account_id)
    name = _clean_name(company, name)

    fields = dict(
        company=company,
        kind=Processor.Kind.STRIPE,
        name=name,
        deposit_account=deposit_account,
        payout_account=payout_account,
        secret_key=Secret(key),
        key_last4=key[-4:],
        account_id=account.account_id,
        account_name=account.name[:200],
        created_by=created_by,
    )
    pending = subscription = None
    if public_url:
        # A pending row gives the endpoint's URL its id; it is not connected until the end.
        with transaction.atomic():
            pending = Processor.objects.create(**fields, disconnected_at=timezone.now())
        try:
            subscription = client.subscribe_webhooks(
                url=webhook_url(public_url=public_url, processor_id=pending.pk), events=WEBHOOK_EVENTS
            )
        except base.ProcessorError as exc:
            _discard_pending(pending)
            raise type(exc)(_subscription_failed(exc)) from None
        except BaseException:
            _discard_pending(pending)
            raise

    try:
        with transaction.atomic():
            if pending is None:
                processor = Processor.objects.create(**fields)
            else:
                processor = Processor.objects.select_for_update().get(pk=pending.pk)
                processor.webhook_endpoint_id = subscription.endpoint_id
                processor.webhook_secret = Secret(subscription.secret)
                processor.webhook_events = subscribed_events()
                processor.disconnected_at = None
                processor.save(update_fields=["webhook_endpoint_id", "webhook_secret", "webhook_events",
                                              "disconnected_at"])
                forget_decrypted()
            row, _ = PaymentSettings.objects.select_for_update().get_or_create(company=company)
            if row.default_processor_id is None or not _is_connected(row.default_processor_id):
                row.default_processor = processor
                row.save(update_fields=["default_processor"])
    except IntegrityError:
        _forget_endpoint(client, subscription)
        _discard_pending(pending)
        _refuse_account_twice(company, account.account_id)  # a concurrent connect of the same account won
        raise SettleError(f"You already have a processor named {name}. Choose another name.", field="name") from None
    except BaseException:
        _forget_endpoint(client, subscription)
        _discard_pending(pending)
        raise
    logger.info("Connected processor %s (%s) for company %s", processor.pk, account.account_id, company.pk)
    return processor


def _refuse_account_twice(company, account_id: str) -> None:
    """R5: one connected processor per Stripe account in a company; say which one and what to do instead."""
    if not account_id:
        return
    existing = Processor.objects.filter(company=company, account_id=account_id, disconnected_at__isnull=True).first()
    if existing is not None:
        raise SettleError(
            f"This key belongs to the Stripe account already connected as “{existing.name}” (key ending "
            f"{existing.key_last4}). Nothing was saved. To use this key instead, edit “{existing.name}” and "
            "rotate its key.",
            field="secret_key",
        )


def rotate_processor_key(*, processor: Processor, secret_key: str, by=None) -> Processor:
    """R5: give a connected processor a new secret key of the *same* Stripe account.

    The key's form is checked, then Stripe is asked whose key it is: another account's key
    (or a key whose account Stripe will not name, e.g. a restricted key without that
    permission) is refused and nothing is saved. The processor keeps its id, name, links,
    webhook endpoint and history; a `key_rejected` mark and its open problem are cleared,
    since Stripe accepts the new key. No transaction is held across the call to Stripe.
    """
    if not processor.is_connected:
        raise SettleError("This processor is disconnected; connect it again instead.")
    key = check_key_form(secret_key)
    try:
        account = client_for_key(key).retrieve_account()
    except base.KeyRejected as exc:
        raise base.KeyRejected(f"{exc.message} Nothing was saved. {WHERE_TO_FIND}", field="secret_key") from None
    if not account.account_id or not processor.account_id:
        raise SettleError(
            "Stripe would not say which account this key belongs to, so Settle cannot confirm it is the same "
            "account. Nothing was saved. Use a standard secret key (sk_live_…).",
            field="secret_key",
        )
    if account.account_id != processor.account_id:
        raise SettleError(
            f"This key belongs to another Stripe account than “{processor.name}” uses. Nothing was saved. "
            "To take payments through another Stripe account, add it as a new processor.",
            field="secret_key",
        )
    with transaction.atomic():
        locked = Processor.objects.select_for_update().get(pk=processor.pk)
        if not locked.is_connected:
            raise SettleError("This processor was disconnected meanwhile; nothing was saved.")
        locked.secret_key = Secret(key)
        locked.key_last4 = key[-4:]
        locked.key_rejected_at = None
        locked.save(update_fields=["secret_key", "key_last4", "key_rejected_at"])
        forget_decrypted()  # the old key's plaintext is not kept in this process
        Problem.objects.filter(
            processor=locked, kind=Problem.Kind.KEY_REJECTED, resolved_at__isnull=True
        ).update(resolved_at=timezone.now())
        # A later rejection of the new key must be able to raise its problem again.
        Problem.objects.filter(key=f"key-rejected:{locked.pk}").update(key=f"key-rejected:{locked.pk}:{timezone.now().timestamp()}")
    logger.info("Rotated the key of processor %s by user %s", locked.pk, getattr(by, "pk", None))
    try:
        ensure_webhook_events(processor=locked)
    except base.ProcessorError as exc:  # the sweep tries again
        logger.warning("Could not update the webhook events of processor %s: %s", locked.pk, exc.message)
    return locked


def subscribed_events() -> str:
    """The current event list (WEBHOOK_EVENTS) as Processor.webhook_events stores it."""
    return " ".join(WEBHOOK_EVENTS)


def ensure_webhook_events(*, processor: Processor, client=None) -> bool:
    """Bring a connected processor's webhook endpoint up to the current event list, once (R8).

    Processors connected before an event type was added (e.g. `payout.paid`) are subscribed
    to the older list. When the stored list differs from WEBHOOK_EVENTS, the endpoint's
    `enabled_events` is set at Stripe, then the new list is stored; when it is current,
    nothing is asked. Returns whether the endpoint was updated. Raises ProcessorError if
    Stripe cannot be asked (nothing stored; the next sweep tries again). No transaction
    is held across the call.
    """
    current = subscribed_events()
    if not processor.webhook_endpoint_id or not processor.is_connected or processor.webhook_events == current:
        return False
    (client or client_for(processor)).update_webhook_events(
        endpoint_id=processor.webhook_endpoint_id, events=list(WEBHOOK_EVENTS)
    )
    Processor.objects.filter(pk=processor.pk, webhook_endpoint_id=processor.webhook_endpoint_id).update(
        webhook_events=current
    )
    processor.webhook_events = current
    logger.info("Updated the webhook events of processor %s", processor.pk)
    return True


def _subscription_failed(exc: base.ProcessorError) -> str:
    """P3: the user's sentence when Stripe accepted the key but the webhook subscription failed."""
    failed = "Stripe accepted the key, but subscribing to its webhooks failed, so nothing was saved"
    if isinstance(exc, base.ProcessorUnavailable):
        return f"{failed}: Stripe could not be reached. Try again in a moment."
    return f"{failed}. {exc.message}"


def _discard_pending(pending: Processor | None) -> None:
    """Best effort: delete the pending row of a connect that did not complete."""
    if pending is None:
        return
    try:
        with transaction.atomic():
            Processor.objects.filter(pk=pending.pk, disconnected_at__isnull=False, webhook_endpoint_id="").delete()
    except Exception:  # noqa: BLE001 - the original failure is what the user must see
        logger.exception("Could not delete pending processor %s", pending.pk)


def _is_connected(processor_id) -> bool:
    return Processor.objects.filter(pk=processor_id, disconnected_at__isnull=True).exists()


def _forget_endpoint(client, subscription) -> None:
    """Best effort: remove a webhook endpoint created for a processor that was not saved."""
    if subscription is None:
        return
    try:
        client.delete_webhook_endpoint(subscription.endpoint_id)
    except base.ProcessorError as exc:
        logger.warning("Could not remove webhook endpoint %s: %s", subscription.endpoint_id, exc.message)


def update_processor(*, processor: Processor, name: str, deposit_account: Account | None,
                     payout_account: Account | None = None) -> Processor:
    """Rename a connected processor, change its deposit account or where its payouts go (R8).

    Payments and payouts already recorded stay put. `payout_account` None keeps the current one.
    """
    if not processor.is_connected:
        raise SettleError("This processor is disconnected; connect it again instead.")
    name = _clean_name(processor.company, name, exclude_pk=processor.pk)
    deposit_account = _check_deposit_account(processor.company, deposit_account)
    if payout_account is not None:
        payout_account = _check_payout_account(processor.company, payout_account)
    try:
        with transaction.atomic():
            processor.name = name
            processor.deposit_account = deposit_account
            if payout_account is not None:
                processor.payout_account = payout_account
            processor.save(update_fields=["name", "deposit_account", "payout_account"])
    except IntegrityError:
        raise SettleError(f"You already have a processor named {name}. Choose another name.", field="name") from None
    return processor


# -- P5 --------------------------------------------------------------------------------------

def disconnect_processor(*, processor: Processor, by=None) -> Processor:
    """Disconnect `processor` (P5); returns it. Disconnecting twice changes nothing.

    In one transaction: mark it disconnected; void every live payment link of the
    invoices that use it (they must be emailed again, after reconnecting, to get new
    links); those invoices, clients and the company stop naming it as their processor
    (it no longer exists as a choice). Then, best effort and outside the transaction
    (Stripe may already refuse the key): expire its open checkout sessions (one found
    paid is recorded) and delete its webhook endpoint. The row stays, for the payments
    recorded through it.
    """
    from settle.sales.models import Client, Invoice

    from .links import void_links

    with transaction.atomic():
        locked = Processor.objects.select_for_update().get(pk=processor.pk)
        if locked.disconnected_at is not None:
            return locked
        locked.disconnected_at = timezone.now()
        locked.save(update_fields=["disconnected_at"])
        voided = void_links(processor=locked)
        Invoice.objects.filter(card_processor=locked).update(card_processor=None)
        Client.objects.filter(default_processor=locked).update(default_processor=None)
        PaymentSettings.objects.filter(default_processor=locked).update(default_processor=None)
        open_sessions = list(
            CheckoutSession.objects.filter(processor=locked, status=CheckoutSession.Status.OPEN).values_list(
                "pk", "session_id"
            )
        )
    logger.info(
        "Disconnected processor %s by user %s; voided %s payment links", locked.pk, getattr(by, "pk", None), voided
    )

    from .recording import retire_session

    client = client_for(locked)
    rows = CheckoutSession.objects.select_related("processor", "processor__company", "processor__deposit_account")
    for row in rows.filter(pk__in=[pk for pk, _ in open_sessions]):
        try:
            retire_session(row)  # a session paid meanwhile is recorded, not left behind (R1)
        except base.ProcessorError as exc:
            logger.warning("Could not expire checkout session %s of processor %s: %s",
                           row.session_id, locked.pk, exc.message)
    if locked.webhook_endpoint_id:
        try:
            client.delete_webhook_endpoint(locked.webhook_endpoint_id)
        except base.ProcessorError as exc:
            logger.warning(
                "Could not delete webhook endpoint %s of processor %s: %s",
                locked.webhook_endpoint_id, locked.pk, exc.message,
            )
    return locked


# -- P6, P7 ------------------------------------------------------------------------------------

def set_default_processor(*, company, processor: Processor | None) -> PaymentSettings:
    """P6: the company's default way to accept card payments (a connected processor or none)."""
    if processor is not None and (processor.company_id != company.pk or not processor.is_connected):
        raise SettleError("Choose one of your connected credit card processors, or No credit card payments.",
                          field="default_processor")
    with transaction.atomic():
        row, _ = PaymentSettings.objects.select_for_update().get_or_create(company=company)
        row.default_processor = processor
        row.save(update_fields=["default_processor"])
    return row


def set_notification_email(*, company, email: str) -> PaymentSettings:
    """P7: where payment and problem emails go. Offered once a processor exists; "" clears it."""
    email = (email or "").strip()
    if email:
        try:
            EmailValidator()(email)
        except ValidationError:
            raise SettleError("Enter a valid email address, such as you@example.com.", field="notification_email") from None
        if len(email) > PaymentSettings._meta.get_field("notification_email").max_length:
            raise SettleError("That email address is too long.", field="notification_email")
    if not Processor.objects.filter(company=company).exists():
        raise SettleError("Add a credit card processor first (Settings > Add-ons).", field="notification_email")
    with transaction.atomic():
        row, _ = PaymentSettings.objects.select_for_update().get_or_create(company=company)
        row.notification_email = email
        row.save(update_fields=["notification_email"])
    return row


# -- R3 -------------------------------------------------------------------------------------------

def mark_key_rejected(*, processor: Processor) -> Problem:
    """R3: Stripe no longer accepts the processor's key: mark it and raise the problem once."""
    from .problems import report_key_rejected

    return report_key_rejected(processor=processor)


# -- encryption key rotation -----------------------------------------------------------------------

def rotate_secrets() -> dict[str, int]:
    """Re-encrypt every stored processor secret with the first ENCRYPTION_KEYS key.

    One transaction; rows are rewritten with raw ciphertext (no decrypt/encrypt round trip
    through the model). Returns counts per field.
    """
    counts = {"secret_key": 0, "webhook_secret": 0}
    with transaction.atomic():
        rows = Processor.objects.select_for_update().order_by("pk")
        for pk, key_token, hook_token in _raw_secrets(rows):
            updates = {}
            if key_token:
                updates["secret_key"] = rotate(key_token)
                counts["secret_key"] += 1
            if hook_token:
                updates["webhook_secret"] = rotate(hook_token)
                counts["webhook_secret"] += 1
            if updates:
                _write_raw(pk, updates)
    return counts


def _raw_secrets(queryset):
    """(pk, secret_key ciphertext, webhook_secret ciphertext) straight from the database."""
    from django.db import connection

    table = Processor._meta.db_table
    ids = list(queryset.values_list("pk", flat=True))
    if not ids:
        return []
    with connection.cursor() as cursor:
        qn = connection.ops.quote_name
        placeholders = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"SELECT {qn('id')}, {qn('secret_key')}, {qn('webhook_secret')} FROM {qn(table)} "
            f"WHERE {qn('id')} IN ({placeholders}) ORDER BY {qn('id')}",
            ids,
        )
        return cursor.fetchall()


def _write_raw(pk, updates: dict[str, str]) -> None:
    from django.db import connection

    qn = connection.ops.quote_name
    table = Processor._meta.db_table
    assignments = ", ".join(f"{qn(column)} = %s" for column in updates)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {qn(table)} SET {assignments} WHERE {qn('id')} = %s", [*updates.values(), pk])


__all__ = [
    "check_key_form",
    "company_processors",
    "connect_stripe_processor",
    "default_deposit_account",
    "default_payout_account",
    "ensure_webhook_events",
    "processor_payout_accounts",
    "processor_deposit_accounts",
    "disconnect_processor",
    "invoices_using",
    "mark_key_rejected",
    "payment_settings",
    "rotate_processor_key",
    "rotate_secrets",
    "set_default_processor",
    "set_notification_email",
    "update_processor",
    "webhook_url",
]
