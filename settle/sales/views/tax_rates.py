"""Settings > Tax rates: Creator and Admin only."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from settle.companies.access import member_required
from settle.companies.models import Level
from settle.core.errors import SettleError

from .. import selectors
from ..access import access_tax_rate
from ..forms import TaxRateForm, apply_error
from ..services.tax_rates import create_tax_rate, delete_tax_rate, update_tax_rate
from settle.core.money import plain_number


@member_required(Level.ADMIN)
def tax_rate_list(request):
    company = request.membership.company
    form = TaxRateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tax_rate = create_tax_rate(company=company, **form.cleaned_data)
        except SettleError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Tax rate {tax_rate} added.")
            return redirect("sales:tax_rate_list")
    return render(request, "sales/tax_rate_list.html", {"form": form, "tax_rates": selectors.tax_rates(company=company)})


@member_required(Level.ADMIN)
def tax_rate_edit(request, pk):
    tax_rate = access_tax_rate(membership=request.membership, tax_rate_id=pk)
    initial = {"name": tax_rate.name, "rate": plain_number(tax_rate.rate)}
    form = TaxRateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            update_tax_rate(tax_rate=tax_rate, **form.cleaned_data)
        except SettleError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, f"Tax rate {tax_rate} saved.")
            return redirect("sales:tax_rate_list")
    return render(request, "sales/tax_rate_form.html", {"form": form, "tax_rate": tax_rate})


@member_required(Level.ADMIN)
@require_POST
def tax_rate_delete(request, pk):
    tax_rate = access_tax_rate(membership=request.membership, tax_rate_id=pk)
    try:
        delete_tax_rate(tax_rate=tax_rate)
    except SettleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Tax rate {tax_rate.name} deleted.")
    return redirect("sales:tax_rate_list")
