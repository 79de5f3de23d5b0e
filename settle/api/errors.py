"""Every error of the API in one shape: RFC 9457 problem details (`application/problem+json`).

    {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "…", "instance": "/api/v1/…",
     "errors": [{"field": "lines.0.quantity", "message": "…"}]}

`type` is "about:blank" for plain HTTP conditions and `urn:settle:problem:<slug>` for a
business rule that refused the request (its `detail` is the same sentence the web shows).
"""

import json
import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from settle.core.errors import PeriodLocked, SettleError

logger = logging.getLogger("settle.api")

PROBLEM_JSON = "application/problem+json"


class FieldError(Schema):
    field: str
    message: str


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldError] = []


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__("Too many requests.")
        self.retry_after = retry_after


class IdempotencyConflict(Exception):
    pass


def problem_response(
    request, status: int, detail: str, *, type: str = "about:blank", title: str | None = None,
    errors: list[dict] | None = None, headers: dict | None = None,
) -> HttpResponse:
    body = {
        "type": type,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path if request is not None else "",
        "errors": errors or [],
    }
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_of(loc) -> str:
    # ninja locations read ("body", "payload", "lines", 0, "quantity") or ("query", "limit").
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[2:] if len(parts) > 2 else parts[1:]
    elif parts and parts[0] in {"query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_error(request, exc: ValidationError):
    errors = [{"field": _field_of(e.get("loc", ())), "message": str(e.get("msg", "Invalid value."))} for e in exc.errors]
    return problem_response(
        request, 422, "The request has invalid fields; see `errors`.", title="Invalid request", errors=errors
    )


# The services name a field as the web form does; the API's field for it carries the id.
ID_FIELDS = {"client", "card_processor", "default_processor", "receivable_account", "deposit_account", "tax_rate"}


def _slug(exc: SettleError) -> str:
    from settle.sales.services.voiding import InvoiceHasPayments

    if isinstance(exc, PeriodLocked):
        return "period-locked"
    if isinstance(exc, InvoiceHasPayments):
        return "invoice-has-payments"
    return "business-rule"


def _settle_error(request, exc: SettleError):
    slug = _slug(exc)
    field = f"{exc.field}_id" if exc.field in ID_FIELDS else exc.field
    errors = [{"field": field, "message": exc.message}] if field else []
    return problem_response(
        request, 422, exc.message, type=f"urn:settle:problem:{slug}", title="Refused by a business rule", errors=errors
    )


def _authentication_error(request, exc):
    return problem_response(
        request, 401, "Send a valid API key: `Authorization: Bearer <key>`.",
        headers={"WWW-Authenticate": 'Bearer realm="settle"'},
    )


def _http_error(request, exc: HttpError):
    status = exc.status_code if 400 <= exc.status_code < 600 else 400
    return problem_response(request, status, str(exc))


def _not_found(request, exc):
    return problem_response(request, 404, "Not found.")


def _forbidden(request, exc):
    return problem_response(request, 403, str(exc) or "Your access level does not allow this.")


def _rate_limited(request, exc: RateLimited):
    return problem_response(
        request, 429, f"Too many requests with this key; retry in {exc.retry_after} seconds.",
        headers={"Retry-After": str(exc.retry_after)},
    )


def _server_error(request, exc):
    logger.exception("API error on %s %s", request.method, request.path)
    if transaction.get_connection().in_atomic_block:
        transaction.set_rollback(True)  # the request's transaction (see urls.py) changes nothing
    return problem_response(request, 500, "Something went wrong on our side; nothing was changed.")


def install(api) -> None:
    api.add_exception_handler(ValidationError, _validation_error)
    api.add_exception_handler(SettleError, _settle_error)
    api.add_exception_handler(AuthenticationError, _authentication_error)
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(Http404, _not_found)
    api.add_exception_handler(PermissionDenied, _forbidden)
    api.add_exception_handler(RateLimited, _rate_limited)
    api.add_exception_handler(Exception, _server_error)
