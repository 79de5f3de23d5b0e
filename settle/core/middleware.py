"""Middleware that guards every request and response, driven by tables in settings (N4).

- `InputGuardMiddleware`: no view ever sees a NUL byte, a lone surrogate or a
  non-character in the path, a query parameter or a form field (400 instead of a
  database error), a cookie carrying one is dropped, and the URL names listed in
  `settings.BODY_LIMITS` / `settings.JSON_BODY_URL_NAMES` get their body size (413) and
  JSON shape (400) checked before anything reads or parses the body; the parsed body is
  left on `request.checked_json` (absent when it is not JSON) so it is parsed once.
- `RateLimitMiddleware`: the rules of `settings.RATE_LIMITS` (see settle/core/ratelimit.py),
  429 with Retry-After and a page in Settle's words.
- `SecurityHeadersMiddleware`: the processor's checkout origin in the CSP's form-action
  (django-csp writes the header), a Permissions-Policy on every response, and
  `Cache-Control: no-store, private` on the pages of `settings.NO_STORE_URL_NAMES`
  (they show a payer's name and amounts).
"""

import json
from urllib.parse import urlsplit

from django.conf import settings

from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

from . import ratelimit
from .guards import NOT_JSON, bad_text, checked_json

BAD_INPUT = "The request contained characters Settle cannot accept (such as a NUL byte). Nothing was changed."


def _plain(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _bad_request(request, message: str = BAD_INPUT, *, plain: bool = False, status: int = 400):
    if plain:
        return _plain(message, status)
    if request.path.startswith("/api/"):  # the API answers every error as RFC 9457 problem details
        body = {"type": "about:blank", "title": "Bad Request", "status": status, "detail": message,
                "instance": "", "errors": []}
        return HttpResponse(json.dumps(body), status=status, content_type="application/problem+json")
    return render(request, "400.html", {"reason": message}, status=status)


def _querydict_is_bad(data) -> bool:
    return any(bad_text(key) or any(bad_text(v) for v in values) for key, values in data.lists())


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name in [n for n, v in request.COOKIES.items() if bad_text(n) or bad_text(v)]:
            del request.COOKIES[name]  # e.g. a session id no database could look up
        if bad_text(request.path) or _querydict_is_bad(request.GET):
            return _bad_request(request)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        url_name = request.resolver_match.url_name if request.resolver_match else None
        limit = settings.BODY_LIMITS.get(url_name)
        if limit is not None and request.method == "POST":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return _plain("Invalid Content-Length.", 400)
            if length > limit:
                return _plain(f"The body is larger than {limit // 1024} KB.", 413)
        if url_name in settings.JSON_BODY_URL_NAMES and request.method == "POST":
            problem, parsed = checked_json(request.body)
            if problem:
                return _plain(problem, 400)
            if parsed is not NOT_JSON:
                request.checked_json = parsed  # the view need not parse the body again
            return None
        # The API reads raw JSON bodies and refuses NUL itself; parsing its body as a form here
        # would leave the raw body unreadable to it.
        if request.method == "POST" and not request.path.startswith("/api/") and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            try:
                bad = _querydict_is_bad(request.POST) or any(bad_text(f.name or "") for f in request.FILES.values())
            except MultiPartParserError:  # e.g. multipart/form-data without a boundary
                return _bad_request(request, "The form data could not be read. Nothing was changed.")
            if bad:
                return _bad_request(request)
        return None


class RateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        pending = getattr(request, "_rate_limit_pending", None)
        if pending:
            ratelimit.record(response, pending)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        url_name = request.resolver_match.url_name if request.resolver_match else None
        verdict, pending = ratelimit.check(request, url_name, view_kwargs)
        if verdict is not None:
            return ratelimit.too_many(request, verdict)
        request._rate_limit_pending = pending
        return None


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response._csp_update = {"form-action": checkout_origins()}
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        match = request.resolver_match
        if match is not None and match.url_name in settings.NO_STORE_URL_NAMES:
            response["Cache-Control"] = "no-store, private"
        return response


def checkout_origins() -> list[str]:
    """Where Pay Now may send the customer: Stripe's checkout, or the emulator serving both."""
    api = urlsplit(settings.STRIPE_API_BASE)
    if api.hostname == "api.stripe.com":
        return [settings.STRIPE_CHECKOUT_ORIGIN]
    return [f"{api.scheme}://{api.netloc}"]
