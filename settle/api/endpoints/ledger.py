"""Accounts (read), journal entries (read; post manual entries), tax rates (read), and reports (L4)."""

import datetime as dt
from decimal import Decimal

from ninja import Query, Router, Status

from settle.core.errors import SettleError
from settle.core.money import ZERO
from settle.ledger import selectors, services
from settle.ledger.access import access_account, access_entry
from settle.ledger.forms import default_dates
from settle.ledger.models import Account, JournalEntry
from settle.ledger.services import Line
from settle.sales.selectors import tax_rates

from ..auth import key_required
from ..pagination import PageParams, page_of, paginate
from ..schemas import (
    AccountOut, AccountType, AgingOut, BalanceSheetOut, Date, Id, JournalEntryIn, JournalEntryOut, ProfitAndLossOut,
    TaxRateOut, TrialBalanceOut, money, plain,
)
from .common import READ_ERRORS, WRITE_ERRORS, Level, company_of
from .refs import account_ref

router = Router(tags=["ledger"])


def present_account(account) -> dict:
    return {
        "id": account.pk, "code": account.code, "name": account.name, "type": account.type,
        "role": account.role, "is_active": account.is_active,
    }


@router.get("/accounts", response={200: page_of(AccountOut), **READ_ERRORS}, operation_id="list_accounts")
@key_required(Level.VIEWER)
def list_accounts(request, page: Query[PageParams], type: AccountType | None = None, active: bool | None = None):
    queryset = Account.objects.filter(company=company_of(request))
    if active is not None:
        queryset = queryset.filter(is_active=active)
    if type:
        queryset = queryset.filter(type=type)
    return paginate(queryset, page, present_account)


@router.get("/accounts/{account_id}", response={200: AccountOut, **READ_ERRORS}, operation_id="get_account")
@key_required(Level.VIEWER)
def get_account(request, account_id: Id):
    return present_account(access_account(membership=request.membership, account_id=account_id))


def present_entry(entry) -> dict:
    currency = entry.company.currency
    lines = list(selectors.entry_lines(entry))
    return {
        "id": entry.pk,
        "number": entry.number,
        "date": entry.date,
        "memo": entry.memo,
        "source": entry.source,
        "reverses_id": entry.reverses_id,
        "total": money(sum((line.debit for line in lines), ZERO), currency),
        "lines": [
            {
                "account_id": line.account_id,
                "debit": money(line.debit, currency),
                "credit": money(line.credit, currency),
                "description": line.description,
                "invoice_id": line.invoice_id,
            }
            for line in lines
        ],
        "created_at": entry.created_at,
    }


@router.get(
    "/journal-entries", response={200: page_of(JournalEntryOut), **READ_ERRORS}, operation_id="list_journal_entries"
)
@key_required(Level.VIEWER)
def list_entries(request, page: Query[PageParams], date_from: dt.date | None = None, date_to: dt.date | None = None):
    queryset = JournalEntry.objects.filter(company=company_of(request)).select_related("company")
    if date_from:
        queryset = queryset.filter(date__gte=date_from)
    if date_to:
        queryset = queryset.filter(date__lte=date_to)
    return paginate(queryset, page, present_entry)


@router.post("/journal-entries", response={201: JournalEntryOut, **WRITE_ERRORS}, operation_id="create_journal_entry")
@key_required(Level.BOOKKEEPER)
def create_entry(request, payload: JournalEntryIn):
    """Post a manual journal entry (L2, L3): balanced, at least two one-sided lines, outside the period lock."""
    lines = [
        Line(
            account=account_ref(request, line.account_id, f"lines.{i}.account_id"),
            debit=Decimal(line.debit),
            credit=Decimal(line.credit),
            description=line.description,
        )
        for i, line in enumerate(payload.lines)
    ]
    entry = services.post_journal_entry(
        company=company_of(request), date=payload.date, lines=lines, memo=payload.memo, source="manual"
    )
    return Status(201, present_entry(access_entry(membership=request.membership, entry_id=entry.pk)))


@router.get("/journal-entries/{entry_id}", response={200: JournalEntryOut, **READ_ERRORS}, operation_id="get_journal_entry")
@key_required(Level.VIEWER)
def get_entry(request, entry_id: Id):
    return present_entry(access_entry(membership=request.membership, entry_id=entry_id))


@router.get("/tax-rates", response={200: page_of(TaxRateOut), **READ_ERRORS}, operation_id="list_tax_rates")
@key_required(Level.VIEWER)
def list_tax_rates(request, page: Query[PageParams]):
    return paginate(
        tax_rates(company=company_of(request)), page,
        lambda rate: {"id": rate.pk, "name": rate.name, "rate": plain(rate.rate)},
    )


# --- reports (L4) ----------------------------------------------------------------------------------


@router.get("/reports/trial-balance", response={200: TrialBalanceOut, **READ_ERRORS}, operation_id="trial_balance", tags=["reports"])
@key_required(Level.VIEWER)
def trial_balance(request, as_of: dt.date | None = None):
    company = company_of(request)
    as_of = as_of or company.today()
    currency = company.currency
    rows = selectors.trial_balance(company=company, as_of=as_of)
    total_debit, total_credit = selectors.trial_balance_totals(rows)
    return {
        "as_of": as_of,
        "rows": [
            {
                "account_id": row.account.pk, "code": row.account.code, "name": row.account.name,
                "type": row.account.type, "debit": money(row.debit_balance, currency),
                "credit": money(row.credit_balance, currency),
            }
            for row in rows
        ],
        "total_debit": money(total_debit, currency),
        "total_credit": money(total_credit, currency),
    }


def _aging_row(row, currency) -> dict:
    return {
        "name": row.name, "client_id": row.client_id,
        **{bucket: money(getattr(row, bucket), currency) for bucket in selectors.BUCKETS},
        "total": money(row.total, currency),
    }


@router.get("/reports/aging", response={200: AgingOut, **READ_ERRORS}, operation_id="receivables_aging", tags=["reports"])
@key_required(Level.VIEWER)
def aging(request, as_of: dt.date | None = None):
    company = company_of(request)
    report = selectors.receivables_aging(company=company, as_of=as_of or company.today())
    return {
        "as_of": report.as_of,
        "rows": [_aging_row(row, company.currency) for row in report.rows],
        "totals": _aging_row(report.totals, company.currency),
    }


@router.get(
    "/reports/profit-and-loss", response={200: ProfitAndLossOut, **READ_ERRORS}, operation_id="profit_and_loss",
    tags=["reports"],
)
@key_required(Level.VIEWER)
def profit_and_loss(request, start: Date | None = None, end: Date | None = None):
    """Income and expenses from `start` to `end` (both included; by default the start of the year through
    today), beside the previous period of the same number of days, as the web report shows them (L4)."""
    company = company_of(request)
    default_start, default_end = default_dates(company.today())
    start, end = start or default_start, end or default_end
    if start > end:
        raise SettleError("The start date is after the end date.", field="start")
    try:
        report = selectors.profit_and_loss(company=company, start=start, end=end)
    except OverflowError:  # the previous period would begin before year 1
        raise SettleError("This period has no previous period to compare with; choose a later start.", field="start") from None
    currency = company.currency

    def rows(section):
        return [
            {
                "account_id": row.account_id, "code": row.code, "name": row.name, "amount": money(row.amount, currency),
                "previous": money(row.previous, currency), "change": money(row.change, currency),
            }
            for row in section
        ]

    return {
        "period": {"start": report.start, "end": report.end},
        "previous_period": {"start": report.previous_start, "end": report.previous_end},
        "income": rows(report.income),
        "expenses": rows(report.expenses),
        "total_income": money(report.total_income, currency),
        "total_expenses": money(report.total_expenses, currency),
        "net_profit": money(report.net_profit, currency),
        "previous_total_income": money(report.previous_income, currency),
        "previous_total_expenses": money(report.previous_expenses, currency),
        "previous_net_profit": money(report.previous_net_profit, currency),
    }


@router.get(
    "/reports/balance-sheet", response={200: BalanceSheetOut, **READ_ERRORS}, operation_id="balance_sheet",
    tags=["reports"],
)
@key_required(Level.VIEWER)
def balance_sheet(request, as_of: Date | None = None):
    """Assets, liabilities and equity as of the date (by default today), as the web report shows them (L4)."""
    company = company_of(request)
    sheet = selectors.balance_sheet(company=company, as_of=as_of or company.today())
    currency = company.currency

    def rows(section):
        return [
            {"account_id": row.account_id, "code": row.code, "name": row.name, "amount": money(row.amount, currency)}
            for row in section
        ]

    return {
        "as_of": sheet.as_of,
        "assets": rows(sheet.assets),
        "liabilities": rows(sheet.liabilities),
        "equity": rows(sheet.equity),
        "current_earnings": money(sheet.current_earnings, currency),
        "total_assets": money(sheet.total_assets, currency),
        "total_liabilities": money(sheet.total_liabilities, currency),
        "total_equity": money(sheet.total_equity, currency),
        "total_liabilities_and_equity": money(sheet.total_liabilities_and_equity, currency),
    }
