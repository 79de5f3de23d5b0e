"""Accounts & Reports (L1–L4): parse, call one service or selector, render or redirect."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from settle.companies.access import member_required
from settle.companies.models import Level
from settle.core.errors import SettleError

from . import selectors, services
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
    account = access_account(membership=request.membership, account_id=pk)
    start, end = default_dates(request.membership.company.today())
    form = DateRangeForm(request.GET if request.GET else {"start": start.isoformat(), "end": end.isoformat()})
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    rows = selectors.account_register(account=account, start=start, end=end)
    return render(
        request,
        "ledger/register.html",
        {"account": account, "form": form, "rows": rows, "start": start, "end": end, "closing": rows[-1].balance},
    )


# --- Reports ------------------------------------------------------------------------------


@member_required(Level.VIEWER)
def trial_balance(request):
    form, as_of = _as_of(request)
    rows = selectors.trial_balance(company=request.membership.company, as_of=as_of)
    total_debit, total_credit = selectors.trial_balance_totals(rows)
    return render(
        request,
        "ledger/trial_balance.html",
        {"form": form, "as_of": as_of, "rows": rows, "total_debit": total_debit, "total_credit": total_credit},
    )


@member_required(Level.VIEWER)
def receivables_aging(request):
    form, as_of = _as_of(request)
    report = selectors.receivables_aging(company=request.membership.company, as_of=as_of)
    return render(
        request,
        "ledger/aging.html",
        {"form": form, "as_of": as_of, "report": report, "labels": selectors.BUCKET_LABELS},
    )


# --- Journal ------------------------------------------------------------------------------


@member_required(Level.VIEWER)
def journal(request):
    entries = selectors.journal_entries(company=request.membership.company)
    page = Paginator(entries, JOURNAL_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(entry, selectors.from_units(entry.total_units)) for entry in page]
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
