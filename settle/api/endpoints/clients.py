"""Clients (S1): list, create, read, change and delete, through `sales.services.clients`."""

import datetime as dt

from django.http import HttpResponse
from ninja import Query, Router, Status

from settle.sales import selectors
from settle.sales.access import access_client
from settle.sales.services.clients import create_client, delete_client, update_client

from ..auth import key_required
from ..pagination import PageParams, page_of, paginate
from ..schemas import ClientIn, ClientOut, ClientPatch, Id
from .refs import processor_ref
from .common import READ_ERRORS, WRITE_ERRORS, Level, company_of

router = Router(tags=["clients"])


def present_client(client) -> dict:
    return {
        "id": client.pk,
        "name": client.name,
        "emails": client.email_list,
        "address": client.address,
        "default_processor_id": client.default_processor_id,
        "created_at": client.created_at,
    }


def _processor(request, processor_id):
    return processor_ref(request, processor_id, "default_processor_id")


@router.get("/clients", response={200: page_of(ClientOut), **READ_ERRORS}, operation_id="list_clients")
@key_required(Level.VIEWER)
def list_clients(
    request, page: Query[PageParams], created_from: dt.date | None = None, created_to: dt.date | None = None
):
    queryset = selectors.clients(company=company_of(request))
    if created_from:
        queryset = queryset.filter(created_at__date__gte=created_from)
    if created_to:
        queryset = queryset.filter(created_at__date__lte=created_to)
    return paginate(queryset, page, present_client)


@router.post("/clients", response={201: ClientOut, **WRITE_ERRORS}, operation_id="create_client")
@key_required(Level.BOOKKEEPER)
def create(request, payload: ClientIn):
    client = create_client(
        company=company_of(request), name=payload.name, emails=payload.emails, address=payload.address,
        default_processor=_processor(request, payload.default_processor_id),
    )
    return Status(201, present_client(client))


@router.get("/clients/{client_id}", response={200: ClientOut, **READ_ERRORS}, operation_id="get_client")
@key_required(Level.VIEWER)
def get(request, client_id: Id):
    return present_client(access_client(membership=request.membership, client_id=client_id))


@router.patch("/clients/{client_id}", response={200: ClientOut, **WRITE_ERRORS}, operation_id="update_client")
@key_required(Level.BOOKKEEPER)
def update(request, client_id: Id, payload: ClientPatch):
    client = access_client(membership=request.membership, client_id=client_id)
    given = payload.model_fields_set
    client = update_client(
        client=client,
        name=payload.name if "name" in given and payload.name is not None else client.name,
        emails=payload.emails if "emails" in given and payload.emails is not None else client.emails,
        address=payload.address if "address" in given and payload.address is not None else client.address,
        default_processor=(
            _processor(request, payload.default_processor_id) if "default_processor_id" in given
            else client.default_processor
        ),
    )
    return present_client(client)


@router.delete("/clients/{client_id}", response={204: None, **WRITE_ERRORS}, operation_id="delete_client")
@key_required(Level.BOOKKEEPER)
def delete(request, client_id: Id):
    delete_client(client=access_client(membership=request.membership, client_id=client_id))
    return HttpResponse(status=204)
