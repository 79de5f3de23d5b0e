"""The access table: one entry per URL name in the project (C2).

test_access_matrix.py walks every URL pattern and FAILS for a URL name missing here.

HOW TO ADD AN ENTRY (one line in TABLE, keyed by the URL name as `reverse()` takes it,
"namespace:name" when the app has an app_name):

    "sales:invoice_detail": Access(Level.VIEWER, GET_POST, kwargs=lambda w: {"pk": w.invoice().pk}),

- level: exactly the view's declared `access_level`, i.e. the argument of
  `member_required(...)` (Level.VIEWER / BOOKKEEPER / ADMIN / CREATOR), or SIGNED_IN for
  `signed_in_required` views (any signed-in user), or PUBLIC for `public` views (anyone;
  the view authorizes by a token or signature). GET needs `level`; POST needs
  max(level, Bookkeeper) — that is what member_required enforces.
- methods: which of GET and POST the view answers (GET, POST or GET_POST).
- kwargs: builds the URL kwargs from a World (Maple Bakery with a user per level;
  `w.stranger()` is another company and its Creator). Create objects of `w.company` through the apps' services; add a
  memoized helper method to World when several entries need the same object.
- scoped (default True): the kwargs name records of Maple Bakery, so a member of another
  company using them must get 404. Set False only with a reason in a comment.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from settle.companies.access import PUBLIC, SIGNED_IN
from settle.companies.models import Company, Level, User

GET = ("GET",)
POST = ("POST",)
GET_POST = ("GET", "POST")


@dataclass(frozen=True)
class Access:
    level: str
    methods: tuple[str, ...] = GET
    kwargs: Callable[[World], dict] | None = None
    scoped: bool = True


def memo(method):
    """World helpers build their object once per test."""

    @functools.wraps(method)
    def wrapper(self):
        if method.__name__ not in self.cache:
            self.cache[method.__name__] = method(self)
        return self.cache[method.__name__]

    return wrapper


@dataclass
class World:
    company: Company
    users: dict[str, User]
    cache: dict = field(default_factory=dict)

    @memo
    def stranger(self) -> tuple[Company, User]:
        """Another company and its Creator, who must never see Maple Bakery's records."""
        from tests import factories

        other = factories.make_company(name="Stranger Books")
        return other, factories.creator_of(other)

    # --- companies -------------------------------------------------------------------------
    @memo
    def extra_member(self):
        from tests import factories

        return factories.add_member(self.company, level=Level.VIEWER)

    @memo
    def invitation_and_token(self):
        from settle.companies.services import invite_member

        tokens = []
        invitation = invite_member(
            company=self.company, invited_by=self.users[Level.CREATOR], email="new.person@example.com",
            level=Level.BOOKKEEPER, accept_url=lambda token: tokens.append(token) or f"http://testserver/{token}/",
        )
        return invitation, tokens[0]

    # --- ledger ----------------------------------------------------------------------------
    def account(self, role="bank"):
        from settle.ledger.services import account_for_role

        return account_for_role(company=self.company, role=role)

    @memo
    def entry(self):
        from settle.ledger.services import Line, post_journal_entry

        return post_journal_entry(
            company=self.company, date=self.company.today(), memo="Cash sale",
            lines=[Line(account=self.account("bank"), debit=Decimal("50")), Line(account=self.account("sales"), credit=Decimal("50"))],
        )

    # --- sales -----------------------------------------------------------------------------
    @memo
    def client(self):
        from settle.sales.services.clients import create_client

        return create_client(company=self.company, name="Corner Café", emails="owner@corner.example")

    @memo
    def tax_rate(self):
        from settle.sales.services.tax_rates import create_tax_rate

        return create_tax_rate(company=self.company, name="GST", rate=Decimal("5"))

    @memo
    def invoice(self):
        from settle.sales.services.invoices import LineInput, issue_invoice

        return issue_invoice(
            company=self.company, client=self.client(), issue_date=self.company.today() - dt.timedelta(days=3),
            lines=[LineInput(description="Croissants", quantity=Decimal("10"), unit_price=Decimal("12.00"))],
            card_processor=self.processor(),
        )

    @memo
    def credit_note(self):
        from settle.sales.services.credits import issue_credit_note

        return issue_credit_note(
            invoice=self.invoice(), date=self.company.today(), amount=Decimal("10.00"), reason="Damaged box"
        )

    @memo
    def manual_payment(self):
        from settle.sales.services.manual_payments import record_manual_payment

        return record_manual_payment(
            invoice=self.invoice(), date=self.company.today(), amount=Decimal("20.00"), deposit_account=self.account("bank")
        )

    # --- payments --------------------------------------------------------------------------
    @memo
    def processor(self):
        # Connecting goes through Stripe (the emulator); for access checks a connected row is enough.
        from settle.core.fields import Secret
        from settle.payments.models import Processor

        return Processor.objects.create(
            company=self.company, name="Stripe", deposit_account=self.account("stripe_clearing"),
            secret_key=Secret("sk_test_" + "x" * 24), key_last4="xxxx", account_id="acct_test",
        )

    @memo
    def card_payment(self):
        from settle.payments.models import CardPayment

        return CardPayment.objects.create(
            company=self.company, invoice=self.invoice(), processor=self.processor(), payment_intent_id="pi_test_1",
            amount=Decimal("30.00"), currency=self.company.currency, paid_on=self.company.today(),
            status=CardPayment.Status.TO_RECORD,
        )

    @memo
    def refund(self):
        # A refund waiting in Refunds to record (for the access checks a row is enough).
        from settle.payments.models import Refund

        return Refund.objects.create(
            company=self.company, card_payment=self.card_payment(), stripe_account="acct_test", refund_id="re_test_1",
            amount=Decimal("10.00"), currency=self.company.currency, refunded_on=self.company.today(),
            status=Refund.Status.TO_RECORD,
        )

    def receipt_id(self):
        from settle.sales.services.receipts import receipt_for

        return receipt_for(card_payment=self.card_payment()).public_id

    @memo
    def problem(self):
        from settle.payments.models import Problem
        from settle.payments.services.problems import raise_problem

        return raise_problem(
            company=self.company, kind=Problem.Kind.KEY_REJECTED, message="Stripe no longer accepts the key.",
            key=f"access-test:{self.company.pk}", processor=self.processor(),
        )

    @memo
    def pay_token(self):
        from settle.payments.services.links import issue_link

        _, url = issue_link(invoice=self.invoice(), base="http://testserver")
        return url.rstrip("/").rsplit("/", 1)[1]

    # --- api -------------------------------------------------------------------------------
    @memo
    def api_key(self):
        from settle.api.services import create_api_key

        return create_api_key(company=self.company, name="Shop", level=Level.BOOKKEEPER)[0]

    # --- notifications ---------------------------------------------------------------------
    @memo
    def outgoing_email(self):
        from settle.notifications.services import queue_email

        return queue_email(key=f"access-test:{self.company.pk}", to="a@example.com", subject="Hi", body="Hi", company=self.company)


def _reset_kwargs(w: World) -> dict:
    user = w.users[Level.VIEWER]
    return {"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)}


TABLE: dict[str, Access] = {
    # --- web ---
    "dashboard": Access(Level.VIEWER),
    # --- companies: signing up, in and out ---
    "signup": Access(PUBLIC, GET_POST),
    "login": Access(PUBLIC, GET_POST),
    "logout": Access(PUBLIC, POST),
    "password_reset": Access(PUBLIC, GET_POST),
    "password_reset_done": Access(PUBLIC),
    "password_reset_confirm": Access(PUBLIC, GET_POST, kwargs=_reset_kwargs, scoped=False),
    "password_reset_complete": Access(PUBLIC),
    "invitation_accept": Access(PUBLIC, GET_POST, kwargs=lambda w: {"token": w.invitation_and_token()[1]}, scoped=False),
    # --- companies: any signed-in user ---
    "company_create": Access(SIGNED_IN, GET_POST),
    "company_switch": Access(SIGNED_IN, POST),
    # --- companies: settings ---
    "settings": Access(Level.ADMIN),
    "company_settings": Access(Level.ADMIN, GET_POST),
    "company_delete": Access(Level.CREATOR, GET_POST),
    "users": Access(Level.ADMIN),
    "user_invite": Access(Level.ADMIN, GET_POST),
    "member_level": Access(Level.ADMIN, POST, kwargs=lambda w: {"membership_id": w.extra_member().pk}),
    "member_remove": Access(Level.ADMIN, POST, kwargs=lambda w: {"membership_id": w.extra_member().pk}),
    "invitation_cancel": Access(Level.ADMIN, POST, kwargs=lambda w: {"invitation_id": w.invitation_and_token()[0].pk}),
    "period_lock": Access(Level.ADMIN, GET_POST),
    # --- ledger ---
    "ledger:accounts": Access(Level.VIEWER),
    "ledger:account_create": Access(Level.ADMIN, POST),
    "ledger:register": Access(Level.VIEWER, kwargs=lambda w: {"pk": w.account("bank").pk}),
    "ledger:trial_balance": Access(Level.VIEWER),
    "ledger:aging": Access(Level.VIEWER),
    "ledger:profit_and_loss": Access(Level.VIEWER),
    "ledger:balance_sheet": Access(Level.VIEWER),
    "ledger:general_ledger": Access(Level.VIEWER),
    "ledger:journal": Access(Level.VIEWER),
    "ledger:entry_create": Access(Level.BOOKKEEPER, GET_POST),
    "ledger:entry": Access(Level.VIEWER, kwargs=lambda w: {"pk": w.entry().pk}),
    "ledger:entry_reverse": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"pk": w.entry().pk}),
    # --- sales ---
    "sales:client_list": Access(Level.VIEWER),
    "sales:client_new": Access(Level.BOOKKEEPER, GET_POST),
    "sales:client_export": Access(Level.VIEWER),
    "sales:client_import": Access(Level.BOOKKEEPER, GET_POST),
    "sales:client_detail": Access(Level.VIEWER, kwargs=lambda w: {"pk": w.client().pk}),
    "sales:client_edit": Access(Level.BOOKKEEPER, GET_POST, kwargs=lambda w: {"pk": w.client().pk}),
    "sales:invoice_list": Access(Level.VIEWER),
    "sales:invoice_new": Access(Level.BOOKKEEPER, GET_POST),
    "sales:invoice_export": Access(Level.VIEWER),
    "sales:invoice_detail": Access(Level.VIEWER, kwargs=lambda w: {"pk": w.invoice().pk}),
    "sales:invoice_edit": Access(Level.BOOKKEEPER, GET_POST, kwargs=lambda w: {"pk": w.invoice().pk}),
    "sales:invoice_processor": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"pk": w.invoice().pk}),
    "sales:payment_new": Access(Level.BOOKKEEPER, GET_POST, kwargs=lambda w: {"pk": w.invoice().pk}),
    "sales:payment_reverse": Access(
        Level.BOOKKEEPER, POST, kwargs=lambda w: {"pk": w.invoice().pk, "payment_pk": w.manual_payment().pk}
    ),
    "sales:invoice_email": Access(Level.BOOKKEEPER, GET_POST, kwargs=lambda w: {"pk": w.invoice().pk}),
    "sales:invoice_print": Access(Level.VIEWER, kwargs=lambda w: {"pk": w.invoice().pk}),
    "sales:invoice_pdf": Access(Level.VIEWER, GET_POST, kwargs=lambda w: {"pk": w.invoice().pk}),
    "sales:invoice_void": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"pk": w.invoice().pk}),
    "sales:credit_note_new": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"pk": w.invoice().pk}),  # S9
    "sales:credit_note_detail": Access(
        Level.VIEWER, kwargs=lambda w: {"pk": w.invoice().pk, "note_pk": w.credit_note().pk}
    ),
    "sales:credit_apply": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"pk": w.client().pk}),
    "sales:credit_refund": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"pk": w.client().pk}),
    "sales:credit_refund_card": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"pk": w.client().pk}),
    "sales:reminder_settings": Access(Level.ADMIN, GET_POST),
    # The receipt's own unguessable id authorizes (K3), like a pay token: not scoped to a company.
    "sales:receipt": Access(PUBLIC, kwargs=lambda w: {"public_id": w.receipt_id()}, scoped=False),
    "sales:tax_rate_list": Access(Level.ADMIN, GET_POST),
    "sales:tax_rate_edit": Access(Level.ADMIN, GET_POST, kwargs=lambda w: {"pk": w.tax_rate().pk}),
    "sales:tax_rate_delete": Access(Level.ADMIN, POST, kwargs=lambda w: {"pk": w.tax_rate().pk}),
    # --- payments: settings ---
    "addons": Access(Level.ADMIN),
    "processor_new_stripe": Access(Level.ADMIN, GET_POST),
    "processor_edit": Access(Level.ADMIN, GET_POST, kwargs=lambda w: {"pk": w.processor().pk}),
    "processor_disconnect": Access(Level.ADMIN, GET_POST, kwargs=lambda w: {"pk": w.processor().pk}),
    "processor_rotate_key": Access(Level.ADMIN, GET_POST, kwargs=lambda w: {"pk": w.processor().pk}),
    "invoice_payments_settings": Access(Level.ADMIN, GET_POST),
    # --- payments: the customer's pages and webhooks (the token / signature authorizes) ---
    "pay_page": Access(PUBLIC, kwargs=lambda w: {"token": w.pay_token()}, scoped=False),
    "pay_details": Access(PUBLIC, GET_POST, kwargs=lambda w: {"token": w.pay_token()}, scoped=False),
    "pay_complete": Access(PUBLIC, kwargs=lambda w: {"token": w.pay_token()}, scoped=False),
    "pay_receipt": Access(
        PUBLIC, kwargs=lambda w: {"token": w.pay_token(), "payment_id": w.card_payment().pk}, scoped=False
    ),
    "stripe_webhook": Access(PUBLIC, POST, kwargs=lambda w: {"processor_id": w.processor().pk}, scoped=False),
    # --- payments: problems and payments to record ---
    "payment_problems": Access(Level.BOOKKEEPER),
    "record_card_payment": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"payment_id": w.card_payment().pk}),
    "reverse_duplicate_booking": Access(
        Level.ADMIN, POST, kwargs=lambda w: {"invoice_id": w.invoice().pk, "payment_id": w.card_payment().pk}
    ),
    "refund_card_payment": Access(
        Level.BOOKKEEPER, POST, kwargs=lambda w: {"invoice_id": w.invoice().pk, "payment_id": w.card_payment().pk}
    ),
    "record_refund": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"refund_id": w.refund().pk}),
    "resolve_payment_problem": Access(Level.BOOKKEEPER, POST, kwargs=lambda w: {"problem_id": w.problem().pk}),
    # --- notifications: the development outbox (404 unless OUTBOX_ENABLED; off in production).
    # A signed-in user reads the mail of their companies and mail addressed to them.
    "outbox": Access(SIGNED_IN),
    "outbox_message": Access(SIGNED_IN, kwargs=lambda w: {"pk": w.outgoing_email().pk}),
    # --- api: Settings > API keys, and the public paths of /api/v1/ (the key-authenticated
    # operations are in test_api_access_matrix.py) ---
    "api_keys": Access(Level.ADMIN, GET_POST),
    "api_key_revoke": Access(Level.ADMIN, POST, kwargs=lambda w: {"key_id": w.api_key().pk}),
    "api_v1:openapi-json": Access(PUBLIC),
    "api_v1:openapi-view": Access(PUBLIC),
    "api_v1:api-root": Access(PUBLIC),
}
