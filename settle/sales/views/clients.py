"""Clients (S1). Viewers read; Bookkeepers and above change."""

from django.contrib import messages
from django.shortcuts import redirect, render

from settle.companies.access import member_required
from settle.companies.models import Level
from settle.core.errors import SettleError

from .. import selectors
from ..access import access_client
from ..forms import ClientForm, apply_error
from ..services.clients import create_client, update_client


@member_required(Level.VIEWER)
def client_list(request):
    company = request.membership.company
    return render(request, "sales/client_list.html", {"clients": selectors.clients(company=company)})


def _client_form_view(request, *, client=None):
    company = request.membership.company
    if request.method == "POST":
        form = ClientForm(request.POST, company=company)
        if form.is_valid():
            values = {k: form.cleaned_data[k] for k in ("name", "emails", "address", "default_processor", "reminders_enabled")}
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
        default = client.default_processor if client.default_processor and client.default_processor.is_connected else None
        form = ClientForm(
            company=company,
            initial={
                "name": client.name, "emails": client.emails, "address": client.address, "default_processor": default,
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
    client = access_client(membership=request.membership, client_id=pk)
    invoices = selectors.invoices(company=request.membership.company, client=client)
    return render(request, "sales/client_detail.html", {"client": client, "invoices": invoices})
