"""Ids named in a request body, fetched through the same `access_*` helpers as the web.

An id of another company (or none at all) is a field error (422), not a 404: the URL
itself was found.
"""

from django.http import Http404

from settle.companies.access import access_object
from settle.core.errors import SettleError
from settle.ledger.access import access_account
from settle.payments.models import Processor
from settle.sales.access import access_client, access_tax_rate


def _fetch(fetch, field: str, message: str):
    try:
        return fetch()
    except Http404:
        raise SettleError(message, field=field) from None


def client_ref(request, client_id, field="client_id"):
    return _fetch(lambda: access_client(membership=request.membership, client_id=client_id), field, "Choose one of your clients.")


def account_ref(request, account_id, field):
    if account_id is None:
        return None
    return _fetch(
        lambda: access_account(membership=request.membership, account_id=account_id), field, "Choose one of your accounts."
    )


def tax_rate_ref(request, tax_rate_id, field):
    if tax_rate_id is None:
        return None
    return _fetch(
        lambda: access_tax_rate(membership=request.membership, tax_rate_id=tax_rate_id), field, "Choose one of your tax rates."
    )


def processor_ref(request, processor_id, field):
    if processor_id is None:
        return None
    return _fetch(
        lambda: access_object(Processor.objects.all(), membership=request.membership, pk=processor_id),
        field,
        "Choose one of your connected credit card processors, or null.",
    )
