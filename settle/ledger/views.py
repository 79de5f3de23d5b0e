"""Accounts & Reports (L1–L4): parse, call one service or selector, render or redirect."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from settle.companies.access import member_required
from settle.companies.models import Level
from settle.core.errors import SettleError
from settle.core.money import ZERO

from . import exports, selectors, services
from .access import access_account, access_entry
from .forms import (
    AccountForm,
    AsOfForm,
    DateRangeForm,
    EntryForm,
    ReverseForm,
    default_dates,
    entry_line_formset,
)
from .services import Line

JOURNAL_PAGE_SIZE = 50
REGISTER_PAGE_SIZE = 50


def _wants_csv(request) -> bool:
    return request.GET.get("format") == "csv"


def _date_range(request):
    """The period from ?start=&end=, or the start of the year through today; an invalid one shows its error."""
    start, end = default_dates(request.membership.company.today())
    data = request.GET if ("start" in request.GET or "end" in request.GET) else {}
    form = DateRangeForm(data or {"start": start.isoformat(), "end": end.isoformat()})
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    return form, start, end


def _as_of(request):
    """The report date from ?as_of=, or today; an invalid date shows its error and falls back to today."""
    today = request.membership.company.today()
    form = AsOfForm(request.GET if "as_of" in request.GET else {"as_of": today.isoformat()})
    return form, (form.cleaned_data["as_of"] if form.is_valid() else today)


def _add_error(form, exc: SettleError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


# --- Chart of accounts ------------------------------------------------------------------


def _render_accounts(request, form, status=200):
    company = request.membership.company
    today = company.today()
    return render(
        request,
        "ledger/accounts.html",
        {
            "rows": selectors.account_balances(company=company, as_of=today),
            "as_of": today,
            "form": form,
            "can_change_chart": request.membership.at_least(Level.ADMIN),
            "lock_end_date": services.lock_end_date(company=company),
        },
        status=status,
    )


@member_required(Level.VIEWER)
def accounts(request):
    return _render_accounts(request, AccountForm())


@member_required(Level.ADMIN)
@require_POST
def account_create(request):
    form = AccountForm(request.POST)
    if form.is_valid():
        try:
            account = services.create_account(company=request.membership.company, **form.cleaned_data)
        except SettleError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"Account {account} added.")
            return redirect("ledger:accounts")
    return _render_accounts(request, form, status=400)


@member_required(Level.VIEWER)
def account_register(request, pk):
    """The register of one account, by pages of REGISTER_PAGE_SIZE lines (?after= / ?before= cursors)."""
    account = access_account(membership=request.membership, account_id=pk)
    form, start, end = _date_range(request)
    if _wants_csv(request) and form.is_valid():
        rows = selectors.account_register(account=account, start=start, end=end)
        return exports.csv_response(
            f"register-{account.code}-{start}-{end}.csv",
            ["Date", "Entry", "Description", "Invoice", "Debit", "Credit", "Balance"],
            exports.register_rows(rows, exports.Amounts(account.company.currency)),
        )
    page = selectors.account_register_page(
        account=account, start=start, end=end, after=request.GET.get("after"), before=request.GET.get("before"),
        size=REGISTER_PAGE_SIZE,
    )
    return render(
        request,
        "ledger/register.html",
        {"account": account, "form": form, "page": page, "rows": page.rows, "start": start, "end": end,
         "closing": page.closing, "range_query": f"start={start.isoformat()}&end={end.isoformat()}"},
    )


# --- Reports ------------------------------------------------------------------------------


@member_required(Level.VIEWER)
def trial_balance(request):
    form, as_of = _as_of(request)
    company = request.membership.company
    rows = selectors.trial_balance(company=company, as_of=as_of)
    if _wants_csv(request) and form.is_valid():
        return exports.csv_response(
            f"trial-balance-{as_of}.csv",
            ["Code", "Account", "Debit", "Credit"],
            exports.trial_balance_rows(rows, exports.Amounts(company.currency)),
        )
    total_debit, total_credit = selectors.trial_balance_totals(rows)
    return render(
        request,
        "ledger/trial_balance.html",
        {"form": form, "as_of": as_of, "rows": rows, "total_debit": total_debit, "total_credit": total_credit},
    )


@member_required(Level.VIEWER)
def receivables_aging(request):
    """The aging by client, 50 clients a page with the Total row on each; the CSV has every client."""
    form, as_of = _as_of(request)
    company = request.membership.company
    if _wants_csv(request) and form.is_valid():
        report = selectors.receivables_aging(company=company, as_of=as_of)
        return exports.csv_response(
            f"receivables-aging-{as_of}.csv",
            ["Client", *selectors.BUCKET_LABELS, "Total"],
            exports.aging_rows(report, exports.Amounts(company.currency)),
        )
    report = selectors.receivables_aging_page(company=company, as_of=as_of, page=request.GET.get("page"))
    return render(
        request,
        "ledger/aging.html",
        {"form": form, "as_of": as_of, "report": report, "page": report.page, "labels": selectors.BUCKET_LABELS},
    )


@member_required(Level.VIEWER)
def profit_and_loss(request):
    form, start, end = _date_range(request)
    company = request.membership.company
    report = selectors.profit_and_loss(company=company, start=start, end=end)
    if _wants_csv(request) and form.is_valid():
        return exports.csv_response(
            f"profit-and-loss-{start}-{end}.csv",
            ["Section", "Code", "Account", f"{start} to {end}", f"{report.previous_start} to {report.previous_end}"],
            exports.profit_and_loss_rows(report, exports.Amounts(company.currency)),
        )
    return render(request, "ledger/profit_and_loss.html", {"form": form, "report": report})


@member_required(Level.VIEWER)
def balance_sheet(request):
    form, as_of = _as_of(request)
    company = request.membership.company
    sheet = selectors.balance_sheet(company=company, as_of=as_of)
    if _wants_csv(request) and form.is_valid():
        return exports.csv_response(
            f"balance-sheet-{as_of}.csv",
            ["Section", "Code", "Account", "Amount"],
            exports.balance_sheet_rows(sheet, exports.Amounts(company.currency)),
        )
    return render(request, "ledger/balance_sheet.html", {"form": form, "as_of": as_of, "sheet": sheet})


@member_required(Level.VIEWER)
def general_ledger(request):
    """The general ledger export: a period form, and with ?format=csv every journal line of the period."""
    form, start, end = _date_range(request)
    if not _wants_csv(request) or not form.is_valid():
        status = 400 if _wants_csv(request) else 200
        return render(request, "ledger/general_ledger.html", {"form": form, "start": start, "end": end}, status=status)
    company = request.membership.company
    return exports.csv_response(
        f"general-ledger-{start}-{end}.csv",
        exports.GENERAL_LEDGER_HEADER,
        exports.general_ledger_rows(company=company, start=start, end=end, money=exports.Amounts(company.currency)),
    )


# --- Journal ------------------------------------------------------------------------------


@member_required(Level.VIEWER)
def journal(request):
    company = request.membership.company
    paginator = selectors.CountedPaginator(
        selectors.journal_entries(company=company), JOURNAL_PAGE_SIZE, count=selectors.journal_entry_count(company=company)
    )
    page = paginator.get_page(request.GET.get("page"))
    entries = list(page)
    totals = selectors.entry_totals(entries)
    rows = [(entry, totals.get(entry.pk, ZERO)) for entry in entries]
    return render(request, "ledger/journal.html", {"page": page, "rows": rows})


def _render_entry(request, entry, reverse_form, status=200):
    reversed_by = selectors.entry_reversed_by(entry)
    can_reverse = (
        request.membership.at_least(Level.BOOKKEEPER)
        and reversed_by is None
        and entry.reverses_id is None
        and entry.source in services.MANUAL_SOURCES
    )
    return render(
        request,
        "ledger/entry.html",
        {
            "entry": entry,
            "lines": selectors.entry_lines(entry),
            "reversed_by": reversed_by,
            "can_reverse": can_reverse,
            "reverse_form": reverse_form,
        },
        status=status,
    )


@member_required(Level.VIEWER)
def entry_detail(request, pk):
    entry = access_entry(membership=request.membership, entry_id=pk)
    form = ReverseForm(initial={"date": request.membership.company.today()})
    return _render_entry(request, entry, form)


@member_required(Level.BOOKKEEPER)
@require_POST
def entry_reverse(request, pk):
    entry = access_entry(membership=request.membership, entry_id=pk)
    form = ReverseForm(request.POST)
    if form.is_valid():
        try:
            reversal = services.reverse_manual_entry(
                entry=entry, date=form.cleaned_data["date"], memo=form.cleaned_data["memo"], created_by=request.user
            )
        except SettleError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"Entry {entry.number} reversed by entry {reversal.number}.")
            return redirect("ledger:entry", pk=reversal.pk)
    return _render_entry(request, entry, form, status=400)


@member_required(Level.BOOKKEEPER)
def entry_create(request):
    company = request.membership.company
    if request.method == "POST":
        form = EntryForm(request.POST)
        formset = entry_line_formset(company=company, data=request.POST)
        if form.is_valid() and formset.is_valid():
            lines = [
                Line(
                    account=f.cleaned_data["account"],
                    debit=f.cleaned_data["debit"],
                    credit=f.cleaned_data["credit"],
                    description=f.cleaned_data["description"],
                )
                for f in formset.filled_forms()
            ]
            try:
                entry = services.post_journal_entry(
                    company=company,
                    date=form.cleaned_data["date"],
                    lines=lines,
                    memo=form.cleaned_data["memo"],
                    source="manual",
                    created_by=request.user,
                )
            except SettleError as exc:
                _add_error(form, exc)
            else:
                messages.success(request, f"Journal entry {entry.number} posted.")
                return redirect("ledger:entry", pk=entry.pk)
        status = 400
    else:
        try:
            lines = int(request.GET.get("lines", 4))
        except ValueError:
            lines = 4
        form = EntryForm(initial={"date": company.today()})
        formset = entry_line_formset(company=company, lines=lines)
        status = 200
    return render(
        request,
        "ledger/entry_form.html",
        {"form": form, "formset": formset, "more_lines": min(len(formset.forms) + 4, 30)},
        status=status,
    )
