"""Settings > API keys and Settings > Webhooks (Creator/Admin).

API keys: created and revoked; a new key is shown once. Webhooks: endpoints added and removed;
a new endpoint's signing secret is shown once; the latest deliveries are listed.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from settle.companies.access import access_object, member_required
from settle.companies.models import Level
from settle.core.errors import SettleError

from . import selectors, services, webhooks
from .forms import ApiKeyForm, WebhookEndpointForm
from .models import WEBHOOK_EVENTS, ApiKey, WebhookEndpoint


@member_required(Level.ADMIN)
def api_keys(request):
    company = request.membership.company
    form = ApiKeyForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                api_key, new_key = services.create_api_key(
                    company=company, name=form.cleaned_data["name"], level=form.cleaned_data["level"],
                    created_by=request.user,
                )
            except SettleError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                form = ApiKeyForm()
        if new_key is None:
            status = 400
    response = render(
        request,
        "api/api_keys.html",
        {"form": form, "keys": selectors.api_keys(company=company), "new_key": new_key},
        status=status,
    )
    if new_key:
        response["Cache-Control"] = "no-store"  # the page carries the secret, once
    return response


@member_required(Level.ADMIN)
@require_POST
def api_key_revoke(request, key_id):
    api_key = access_object(ApiKey.objects.all(), membership=request.membership, pk=key_id)
    services.revoke_api_key(api_key=api_key)
    messages.success(request, f"The key “{api_key.name}” was revoked; it no longer works.")
    return redirect("api_keys")


@member_required(Level.ADMIN)
def webhook_endpoints(request):
    company = request.membership.company
    form = WebhookEndpointForm(request.POST or None)
    new_secret = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                _, new_secret = webhooks.add_endpoint(company=company, url=form.cleaned_data["url"], created_by=request.user)
            except SettleError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                form = WebhookEndpointForm()
        if new_secret is None:
            status = 400
    response = render(
        request,
        "api/webhooks.html",
        {
            "form": form,
            "endpoints": selectors.webhook_endpoints(company=company),
            "deliveries": selectors.recent_webhook_deliveries(company=company),
            "events": WEBHOOK_EVENTS,
            "new_secret": new_secret,
            "signature_header": webhooks.SIGNATURE_HEADER,
        },
        status=status,
    )
    if new_secret:
        response["Cache-Control"] = "no-store"  # the page carries the signing secret, once
    return response


@member_required(Level.ADMIN)
@require_POST
def webhook_endpoint_remove(request, endpoint_id):
    endpoint = access_object(WebhookEndpoint.objects.all(), membership=request.membership, pk=endpoint_id)
    webhooks.remove_endpoint(endpoint=endpoint)
    messages.success(request, f"{endpoint.url} no longer receives events.")
    return redirect("webhook_endpoints")
