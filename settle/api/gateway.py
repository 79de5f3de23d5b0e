"""Around every API view: the request log, idempotent POSTs, one transaction per write, and
problem details for the answers ninja gives itself (405).

Every request is logged with its key id (never the key): `api POST /api/v1/invoices 201 key=7 12ms`.
"""

import hashlib
import json
import logging
import time
from functools import wraps

from django.db import IntegrityError, transaction
from django.http import HttpResponse, RawPostDataException

from .auth import key_for
from .errors import problem_response
from .selectors import idempotent_answer
from .services import remember_answer

logger = logging.getLogger("settle.api")

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
HEADER = "Idempotency-Key"


def _bearer(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _request_hash(request) -> str:
    try:
        body = json.dumps(json.loads(request.body or b"null"), sort_keys=True, separators=(",", ":"))
    except (ValueError, UnicodeDecodeError):
        body = request.body.hex()
    text = f"{request.method} {request.path}?{request.META.get('QUERY_STRING', '')}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    if answer.location:
        response["Location"] = answer.location
    response["Idempotent-Replayed"] = "true"
    return response


def _idempotent(request, view, args, kwargs):
    key = request.headers.get(HEADER)
    api_key = key_for(_bearer(request))
    if api_key is None:
        return view(request, *args, **kwargs)  # the API answers 401
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        return problem_response(
            request, 400, "The Idempotency-Key must be 1 to 255 printable ASCII characters.",
            errors=[{"field": HEADER, "message": "1 to 255 printable ASCII characters."}],
        )
    request.api_key = api_key
    request_hash = _request_hash(request)
    try:
        with transaction.atomic():
            answer = idempotent_answer(api_key=api_key, key=key, for_update=True)
            if answer is not None:
                if answer.request_hash == request_hash:
                    return _replay(answer)
                return problem_response(
                    request, 409, "This Idempotency-Key was used with another request; use a new key.",
                    type="urn:settle:problem:idempotency-key-reused",
                )
            response = view(request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                remember_answer(api_key=api_key, key=key, request_hash=request_hash, response=response)
            else:
                transaction.set_rollback(True)
            return response
    except IntegrityError:
        # A twin request with the same key committed first; nothing of this one was kept.
        return problem_response(
            request, 409, "Another request with this Idempotency-Key was being done; repeat it to read its answer.",
            type="urn:settle:problem:idempotency-key-in-use",
        )


def _has_nul(request) -> bool:
    """A NUL character anywhere in the query or body (PostgreSQL text cannot hold one)."""
    if "%00" in request.META.get("QUERY_STRING", ""):
        return True
    try:
        body = request.body
    except RawPostDataException:  # already parsed as a form by the input guard, which refuses NUL itself
        return False
    return b"\\u0000" in body or b"\x00" in body


def api_view(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        started = time.monotonic()
        if _has_nul(request):
            response = problem_response(
                request, 422, "Text may not contain NUL characters.", title="Invalid request",
                errors=[{"field": "body", "message": "Remove the NUL (\\u0000) characters."}],
            )
        elif request.method in SAFE_METHODS:
            response = view(request, *args, **kwargs)
        elif request.method == "POST" and HEADER in request.headers:
            response = _idempotent(request, view, args, kwargs)
        else:
            with transaction.atomic():
                response = view(request, *args, **kwargs)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/problem"):
            allowed = response.get("Allow", "")
            response = problem_response(request, 405, f"Use {allowed or 'another method'} here.", headers={"Allow": allowed})
        api_key = getattr(request, "api_key", None)
        logger.info(
            "api %s %s %s key=%s %.0fms", request.method, request.path, response.status_code,
            api_key.pk if api_key else "-", (time.monotonic() - started) * 1000,
        )
        return response

    return wrapped


def not_found(request, rest=""):
    return problem_response(request, 404, "There is no such API path.")
