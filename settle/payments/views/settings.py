"""Settings > Add-ons and Settings > Invoice and Payments (P1–P7). Creator or Admin only (C2)."""

from django.contrib import messages
from django.db.models import Max
from django.shortcuts import redirect, render

from settle.companies.access import access_object, member_required
from settle.companies.models import Level
from settle.core.errors import SettleError

from ..forms import DefaultProcessorForm, NotificationEmailForm, ProcessorEditForm, RotateKeyForm, StripeProcessorForm
from ..models import Processor
from ..services import connections

PROCESSOR_TYPES = [{"kind": Processor.Kind.STRIPE, "label": "Stripe", "url_name": "processor_new_stripe"}]


def _processor(request, pk):
    """A connected processor of the current company, or 404."""
    return access_object(
        Processor.objects.filter(disconnected_at__isnull=True).select_related("deposit_account", "payout_account"),
        membership=request.membership,
        pk=pk,
    )


def _edit_initial(processor: Processor) -> dict:
    return {"name": processor.name, "deposit_account": processor.deposit_account_id,
            "payout_account": processor.payout_account_id}


@member_required(Level.ADMIN)
def addons(request):
    """P1, P4: the connected processors and the list of processor types to add."""
    company = request.membership.company
    processors = connections.company_processors(company=company).annotate(last_event_at=Max("events__received_at"))
    return render(
        request,
        "payments/settings/addons.html",
        {"processors": processors, "processor_types": PROCESSOR_TYPES},
    )


@member_required(Level.ADMIN)
def processor_new_stripe(request):
    """P1–P3: Add New Credit Card Processor > Stripe."""
    company = request.membership.company
    accounts = connections.processor_deposit_accounts(company=company)
    default_account = connections.default_deposit_account(company=company)
    default_bank = connections.default_payout_account(company=company)
    form = StripeProcessorForm(
        request.POST or None,
        accounts=accounts,
        banks=connections.processor_payout_accounts(company=company),
        initial={"name": "Stripe", "deposit_account": default_account.pk if default_account else None,
                 "payout_account": default_bank.pk if default_bank else None},
    )
    if request.method == "POST" and form.is_valid():
        try:
            processor = connections.connect_stripe_processor(
                company=company,
                name=form.cleaned_data["name"],
                deposit_account=form.cleaned_data["deposit_account"],
                payout_account=form.cleaned_data["payout_account"],
                secret_key=form.cleaned_data["secret_key"],
                created_by=request.user,
            )
        except SettleError as error:
            form.add_settle_error(error)
        else:
            messages.success(request, f"{processor.name} is connected. Invoices can now offer card payment through it.")
            return redirect("addons")
    return render(request, "payments/settings/processor_new.html", {"form": form, "kind_label": "Stripe"})


@member_required(Level.ADMIN)
def processor_edit(request, pk):
    """Rename a processor or change its deposit account."""
    processor = _processor(request, pk)
    accounts = connections.processor_deposit_accounts(company=request.membership.company)
    form = ProcessorEditForm(
        request.POST or None,
        accounts=accounts,
        banks=connections.processor_payout_accounts(company=request.membership.company),
        initial=_edit_initial(processor),
    )
    if request.method == "POST" and form.is_valid():
        try:
            connections.update_processor(
                processor=processor, name=form.cleaned_data["name"], deposit_account=form.cleaned_data["deposit_account"],
                payout_account=form.cleaned_data["payout_account"],
            )
        except SettleError as error:
            form.add_settle_error(error)
        else:
            messages.success(request, f"{processor.name} was saved.")
            return redirect("addons")
    return render(
        request, "payments/settings/processor_edit.html",
        {"form": form, "processor": processor, "rotate_form": RotateKeyForm()},
    )


@member_required(Level.ADMIN)
def processor_rotate_key(request, pk):
    """R5: rotate a processor's secret key (same Stripe account); links and history stay."""
    processor = _processor(request, pk)
    form = RotateKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            processor = connections.rotate_processor_key(
                processor=processor, secret_key=form.cleaned_data["secret_key"], by=request.user
            )
        except SettleError as error:
            form.add_settle_error(error)
        else:
            messages.success(request, f"{processor.name} now uses the key ending {processor.key_last4}.")
            return redirect("addons")
    accounts = connections.processor_deposit_accounts(company=request.membership.company)
    edit_form = ProcessorEditForm(
        accounts=accounts, banks=connections.processor_payout_accounts(company=request.membership.company),
        initial=_edit_initial(processor),
    )
    return render(
        request, "payments/settings/processor_edit.html",
        {"form": edit_form, "processor": processor, "rotate_form": form},
        status=200 if request.method == "GET" else 400,
    )


@member_required(Level.ADMIN)
def processor_disconnect(request, pk):
    """P5: GET asks for confirmation; POST disconnects."""
    processor = _processor(request, pk)
    if request.method == "POST":
        connections.disconnect_processor(processor=processor, by=request.user)
        messages.success(
            request,
            f"{processor.name} is disconnected. Its payment links are void; after connecting a processor again, "
            "email those invoices again to send new links.",
        )
        return redirect("addons")
    return render(
        request,
        "payments/settings/processor_disconnect.html",
        {"processor": processor, "invoices_using": connections.invoices_using(processor=processor).count()},
    )


@member_required(Level.ADMIN)
def invoice_payments_settings(request):
    """P6 default card processor; P7 Payment Notification Email (once a processor exists)."""
    company = request.membership.company
    processors = connections.company_processors(company=company)
    has_processor = Processor.objects.filter(company=company).exists()
    current = connections.payment_settings(company=company)
    action = request.POST.get("action") if request.method == "POST" else None
    default_form = DefaultProcessorForm(
        request.POST if action == "default" else None,
        processors=processors,
        initial={"default_processor": current.default_processor_id if current.default_processor_id else None},
    )
    email_form = NotificationEmailForm(
        request.POST if action == "notification_email" else None,
        initial={"notification_email": current.notification_email},
    )
    if action == "default" and default_form.is_valid():
        try:
            connections.set_default_processor(company=company, processor=default_form.cleaned_data["default_processor"])
        except SettleError as error:
            default_form.add_settle_error(error)
        else:
            chosen = default_form.cleaned_data["default_processor"]
            messages.success(
                request,
                f"New invoices will offer card payment through {chosen.name}." if chosen
                else "New invoices will not offer card payment unless their client has a default processor.",
            )
            return redirect("invoice_payments_settings")
    if action == "notification_email" and email_form.is_valid():
        try:
            row = connections.set_notification_email(company=company, email=email_form.cleaned_data["notification_email"])
        except SettleError as error:
            email_form.add_settle_error(error)
        else:
            messages.success(
                request,
                f"Payment notifications will go to {row.notification_email}." if row.notification_email
                else "Payment notification emails are off.",
            )
            return redirect("invoice_payments_settings")
    return render(
        request,
        "payments/settings/invoice_payments.html",
        {
            "default_form": default_form,
            "email_form": email_form,
            "has_processor": has_processor,
            "has_connected": processors.exists(),
        },
    )
