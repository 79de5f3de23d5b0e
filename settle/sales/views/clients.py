"""Clients (S1). Viewers read; Bookkeepers and above change."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_safe

from settle.companies.access import member_required
from settle.companies.models import Level
from settle.core.errors import SettleError

from .. import selectors
from ..access import access_client
from ..forms import ClientForm, ClientImportConfirmForm, ClientImportForm, apply_error
from ..services.client_imports import MAX_BYTES, MAX_ROWS, import_clients, read_client_file
from ..services.clients import create_client, update_client
from ..spreadsheets import CLIENT_HEADER, client_rows, csv_response
from .listing import Column, headers, list_params, page_of

CLIENT_COLUMNS = [
    Column("Name", "name"),
    Column("Contact email(s)", "email"),
    Column("Credit Card Processor"),
    Column("Balance due", "balance", num=True, descending_first=True),
]


def _client_params(request):
    return list_params(
        request, statuses=selectors.ClientStatus.values, sorts=selectors.CLIENT_SORTS, default_sort=selectors.CLIENT_DEFAULT_SORT
    )


def _listed_clients(request, params):
    return selectors.client_list(
        company=request.membership.company, status=params.status, search=params.search, sort=params.sort
    )


@member_required(Level.VIEWER)
def client_list(request):
    """Clients, 50 a page: search by name or email, filter by what they owe, sort (S1)."""
    params = _client_params(request)
    page = page_of(_listed_clients(request, params), request)
    return render(
        request,
        "sales/client_list.html",
        {
            "clients": page.object_list,
            "page": page,
            "params": params,
            "status": params.status,
            "status_filters": selectors.ClientStatus.choices,
            "headers": headers(CLIENT_COLUMNS, params.sort),
        },
    )


@member_required(Level.VIEWER)
@require_safe
def client_export(request):
    """The client list as CSV, with the list's search, filter and sort, every page (S1)."""
    company = request.membership.company
    clients = _listed_clients(request, _client_params(request))
    return csv_response(company=company, name="clients", header=CLIENT_HEADER, rows=client_rows(clients, company=company))


def _import_page(request, *, form=None, error: str = ""):
    """The upload form; `error` is a refusal of a file carried back from the preview."""
    return render(
        request,
        "sales/client_import.html",
        {"form": form or ClientImportForm(), "error": error, "max_rows": MAX_ROWS, "max_mb": MAX_BYTES // 1_000_000},
    )


def _preview_page(request, *, parsed, content: str, error: str = ""):
    return render(
        request,
        "sales/client_import_preview.html",
        {"file": parsed, "content": content, "error": error},
    )


def _confirm_import(request):
    """The previewed file came back with the user's choice: import, or show why not."""
    company = request.membership.company
    confirm = ClientImportConfirmForm(request.POST)
    if not confirm.is_valid():
        return _import_page(request, error="The preview could not be read back. Upload the file again.")
    data = confirm.cleaned_data["content"]
    try:
        result = import_clients(company=company, data=data, valid_only=confirm.cleaned_data["choice"] == "valid")
    except SettleError as exc:
        try:
            parsed = read_client_file(company=company, data=data)
        except SettleError as file_error:
            return _import_page(request, error=file_error.message)
        return _preview_page(request, parsed=parsed, content=confirm.data["content"], error=exc.message)
    message = f"{result.created} client{pluralize(result.created)} imported."
    if result.skipped:
        rows = ", ".join(str(row.number) for row in result.skipped)
        message += f" Skipped row{pluralize(len(result.skipped))} {rows} (errors)."
    messages.success(request, message)
    return redirect("sales:client_list")


@member_required(Level.BOOKKEEPER)
def client_import(request):
    """Upload a CSV of clients, see every row checked, then import (S1, N4).

    Three steps on one URL: GET shows the upload form; POST of a file shows the preview
    and saves nothing; POST of the previewed content with the user's choice imports.
    """
    if request.method != "POST":
        return _import_page(request)
    if "content" in request.POST:
        return _confirm_import(request)
    form = ClientImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            parsed = read_client_file(company=request.membership.company, data=form.cleaned_data["file"])
        except SettleError as exc:
            apply_error(form, exc)
        else:
            return _preview_page(request, parsed=parsed, content=ClientImportConfirmForm.encode(form.cleaned_data["file"]))
    return _import_page(request, form=form)


def _client_form_view(request, *, client=None):
    company = request.membership.company
    if request.method == "POST":
        form = ClientForm(request.POST, company=company)
        if form.is_valid():
            values = {k: form.cleaned_data[k] for k in ("name", "emails", "address", "reminders_enabled")}
            choice = form.cleaned_data["default_processor"]
            values["no_card_payments"] = choice == ClientForm.NO_CARD_PAYMENTS
            values["default_processor"] = None if isinstance(choice, str) else choice
            try:
                if client is None:
                    client = create_client(company=company, **values)
                    messages.success(request, f"Client {client.name} added.")
                else:
                    client = update_client(client=client, **values)
                    messages.success(request, f"Client {client.name} saved.")
            except SettleError as exc:
                apply_error(form, exc)
            else:
                return redirect("sales:client_detail", pk=client.pk)
    elif client is None:
        form = ClientForm(company=company)
    else:
        if client.no_card_payments:
            choice = ClientForm.NO_CARD_PAYMENTS
        elif client.default_processor and client.default_processor.is_connected:
            choice = str(client.default_processor_id)
        else:
            choice = ""
        form = ClientForm(
            company=company,
            initial={
                "name": client.name, "emails": client.emails, "address": client.address, "default_processor": choice,
                "reminders_enabled": client.reminders_enabled,
            },
        )
    return render(request, "sales/client_form.html", {"form": form, "client": client})


@member_required(Level.BOOKKEEPER)
def client_new(request):
    return _client_form_view(request)


@member_required(Level.BOOKKEEPER)
def client_edit(request, pk):
    client = access_client(membership=request.membership, client_id=pk)
    return _client_form_view(request, client=client)


@member_required(Level.VIEWER)
def client_detail(request, pk):
    from .credits import client_page

    client = access_client(membership=request.membership, client_id=pk)
    return client_page(request, client)
