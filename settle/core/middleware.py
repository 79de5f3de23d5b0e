"""Middleware that guards every request and response, driven by tables in settings (N4).

- `InputGuardMiddleware`: no view ever sees a NUL byte, a lone surrogate or a
  non-character in the path, a query parameter or a form field (400 instead of a
  database error), a cookie carrying one is dropped, and the URL names listed in
  `settings.BODY_LIMITS` / `settings.JSON_BODY_URL_NAMES` get their body size (413) and
  JSON shape (400) checked before anything reads or parses the body; the parsed body is
  left on `request.checked_json` (absent when it is not JSON) so it is parsed once.
- `RateLimitMiddleware`: the rules of `settings.RATE_LIMITS` (see settle/core/ratelimit.py),
  429 with Retry-After and a page in Settle's words.
- `LeanPathsMiddleware` (first): requests under `settings.LEAN_PATH_PREFIXES` (machine
  endpoints: a processor's webhooks carry no cookie, user, form or CSRF token) go through
  `MIDDLEWARE` less `settings.LEAN_SKIPPED_MIDDLEWARE` (sessions, auth, messages, CSRF,
  company membership, django-axes, static files); every other request through all of it.
- `CSPMiddleware`: django-csp's, with each distinct policy's header built once, not per response.
- `SecurityHeadersMiddleware`: the processor's checkout origin in the CSP's form-action
  (django-csp writes the header), a Permissions-Policy on every response, and
  `Cache-Control: no-store, private` on the pages of `settings.NO_STORE_URL_NAMES`
  (they show a payer's name and amounts).
"""

import functools
import http.client
import json
from dataclasses import asdict
from urllib.parse import urlsplit

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as _DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.module_loading import import_string

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


class _LeanHandler(BaseHandler):
    """The inner part of Django's request handling (URL resolution, process_view hooks, the view)
    behind a shorter middleware list. Synchronous, like Settle's WSGI workers."""

    def __init__(self, middleware: list[str]):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(middleware):  # as BaseHandler.load_middleware, synchronous only
            try:
                instance = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if instance is None:
                raise ImproperlyConfigured(f"Middleware factory {path} returned None.")
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class LeanPathsMiddleware:
    """First in MIDDLEWARE. Machine endpoints (`settings.LEAN_PATH_PREFIXES`) skip the middleware
    that only serves browsers and people (`settings.LEAN_SKIPPED_MIDDLEWARE`); the rest of the
    stack (security headers, input guards, rate limits) runs for them as for any request."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = tuple(settings.LEAN_PATH_PREFIXES)
        skipped = set(settings.LEAN_SKIPPED_MIDDLEWARE)
        me = f"{__name__}.{type(self).__name__}"
        self.lean = _LeanHandler([m for m in settings.MIDDLEWARE if m not in skipped and m != me])

    def __call__(self, request):
        if self.prefixes and request.path_info.startswith(self.prefixes):
            return self.lean._middleware_chain(request)
        return self.get_response(request)


_POLICIES: dict[tuple, str] = {}


@receiver(setting_changed)
def _forget_policies(*, setting, **kwargs):
    if setting.startswith(("CONTENT_SECURITY_POLICY", "STRIPE_")):
        _POLICIES.clear()


def _policy(parts, *, report_only: bool) -> str:
    """The header of one policy, built once per distinct policy (a nonce makes each one distinct)."""
    if parts.nonce:
        return build_policy(**asdict(parts), report_only=report_only)
    key = (report_only, repr(parts.config), repr(parts.update), repr(parts.replace))
    policy = _POLICIES.get(key)
    if policy is None:
        if len(_POLICIES) >= 64:  # policies made per response (none in Settle today) are not kept forever
            _POLICIES.clear()
        policy = _POLICIES[key] = build_policy(**asdict(parts), report_only=report_only)
    return policy


class CSPMiddleware(_DjangoCSPMiddleware):
    """django-csp's middleware (same headers, same exemptions), the header string built once per policy."""

    def process_response(self, request, response):
        if response.status_code in (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND) and settings.DEBUG:
            return response
        for header, report_only, setting in ((HEADER, False, "CONTENT_SECURITY_POLICY"),
                                             (HEADER_REPORT_ONLY, True, "CONTENT_SECURITY_POLICY_REPORT_ONLY")):
            csp = _policy(self.get_policy_parts(request=request, response=response, report_only=report_only),
                          report_only=report_only)
            if not csp or header in response:
                continue
            if getattr(response, "_csp_exempt_ro" if report_only else "_csp_exempt", False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = csp
        if getattr(request, "_csp_nonce", None) is None:  # as django-csp: no nonce once the header is written
            request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response._csp_update = {"form-action": _checkout_origins()}
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


@functools.cache
def _known_checkout_origins() -> tuple[str, ...]:
    return tuple(checkout_origins())


def _checkout_origins() -> list[str]:
    """`checkout_origins()`, worked out once per process (and again when the settings change)."""
    return list(_known_checkout_origins())


@receiver(setting_changed)
def _forget_checkout_origins(*, setting, **kwargs):
    if setting.startswith("STRIPE_"):
        _known_checkout_origins.cache_clear()
