"""Rate limits kept in Django's cache (Redis or the database in production, local memory in dev).

The rules live in `settings.RATE_LIMITS`; `RateLimitMiddleware` (settle/core/middleware.py)
applies them by URL name, so no view carries a decorator. A rule is a dict:

- ``urls``: the URL names it covers; ``methods``: the HTTP methods (default: all);
- ``limit`` per ``window`` seconds;
- ``key``: what is counted per: ``"ip"`` (the client address), ``"token"`` (the URL's
  token, i.e. one payment link) or ``"post:<field>"`` (a posted value, e.g. an email);
- ``count``: what uses up the allowance: ``"request"`` (every matching request),
  ``"not_found"`` (answers 404: guessed tokens) or ``"new_details"`` (a Pay Now with
  billing details not seen on this link within the window that went on to the
  processor; the same details again reuse the open session and are never refused).

Logins are limited by django-axes (settings `AXES_*`); its lockout page comes from here too.
"""

import hashlib
import functools
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.shortcuts import render

log = logging.getLogger("settle.ratelimit")


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or the last hop of `settings.CLIENT_IP_HEADER` behind a proxy."""
    header = getattr(settings, "CLIENT_IP_HEADER", "")
    if header:
        forwarded = request.META.get(header, "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return (request.META.get("REMOTE_ADDR") or "unknown")[:64]


def _cache():
    return caches[getattr(settings, "RATE_LIMIT_CACHE", "default")]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()[:32]


@dataclass(frozen=True)
class Verdict:
    rule: str
    retry_after: int  # seconds


def too_many(request, verdict: Verdict, *, message: str = ""):
    """The 429 page, in Settle's words, with Retry-After."""
    minutes = max(1, math.ceil(verdict.retry_after / 60))
    response = render(
        request,
        "429.html",
        {"minutes": minutes, "message": message or settings.RATE_LIMIT_MESSAGES.get(verdict.rule, "")},
        status=429,
    )
    response["Retry-After"] = str(max(1, int(verdict.retry_after)))
    return response


class Rule:
    def __init__(self, name: str, spec: dict):
        self.name = name
        self.urls = frozenset(spec["urls"])
        self.methods = frozenset(m.upper() for m in spec.get("methods", ()))
        self.limit = int(spec["limit"])
        self.window = int(spec["window"])
        self.key = spec.get("key", "ip")
        self.count = spec.get("count", "request")

    def applies(self, request, url_name: str | None) -> bool:
        return url_name in self.urls and (not self.methods or request.method in self.methods)

    def subject(self, request, view_kwargs) -> str | None:
        if self.key == "ip":
            return client_ip(request)
        if self.key == "token":
            return view_kwargs.get("token")
        if self.key.startswith("post:"):
            value = (request.POST.get(self.key[5:]) or "").strip().lower()
            return value or None
        raise ValueError(f"Unknown rate-limit key {self.key!r}")

    # --- fixed-window counters ("request", "not_found") ---------------------------------------

    def _window(self, now: float) -> tuple[int, int]:
        start = int(now // self.window * self.window)
        return start, start + self.window - int(now)

    def _counter_key(self, subject: str, start: int) -> str:
        return f"rl:{self.name}:{_digest(subject)}:{start}"

    def used(self, subject: str, now: float) -> tuple[int, int]:
        start, retry = self._window(now)
        return int(_cache().get(self._counter_key(subject, start)) or 0), retry

    def add_one(self, subject: str, now: float) -> int:
        start, _ = self._window(now)
        key = self._counter_key(subject, start)
        cache = _cache()
        cache.add(key, 0, timeout=self.window + 60)
        try:
            return cache.incr(key)
        except ValueError:  # expired in between
            cache.set(key, 1, timeout=self.window + 60)
            return 1

    # --- distinct billing details per link ("new_details") ------------------------------------

    def _details_key(self, subject: str) -> str:
        return f"rl:{self.name}:{_digest(subject)}"

    @staticmethod
    def details_of(request) -> str:
        # The same normalisation as Pay Now's own reuse rule (stripped, bounded).
        name = (request.POST.get("billing_name") or "").strip()[:200]
        email = (request.POST.get("billing_email") or "").strip()[:254]
        return _digest(name, email)

    def seen_details(self, subject: str, now: float) -> dict[str, float]:
        seen = _cache().get(self._details_key(subject)) or {}
        return {h: t for h, t in seen.items() if t > now - self.window}

    def remember_details(self, subject: str, details: str, now: float) -> None:
        seen = self.seen_details(subject, now)
        seen.setdefault(details, now)
        _cache().set(self._details_key(subject), seen, timeout=self.window + 60)


@functools.cache
def _rules_and_index() -> tuple[list[Rule], dict[str, tuple[Rule, ...]]]:
    """The rules of the settings, built once per process (again when the settings change), and
    the rules of each URL name, in the settings' order."""
    enabled = getattr(settings, "RATE_LIMITS_ENABLED", True)
    all_rules = [Rule(name, spec) for name, spec in settings.RATE_LIMITS.items()] if enabled else []
    index: dict[str, list[Rule]] = {}
    for rule in all_rules:
        for url_name in rule.urls:
            index.setdefault(url_name, []).append(rule)
    return all_rules, {name: tuple(found) for name, found in index.items()}


@receiver(setting_changed)
def _forget_rules(*, setting, **kwargs):
    if setting.startswith("RATE_LIMIT"):
        _rules_and_index.cache_clear()


def rules() -> list[Rule]:
    return list(_rules_and_index()[0])


def check(request, url_name: str | None, view_kwargs: dict) -> tuple[Verdict | None, list]:
    """Before the view: a Verdict when a rule refuses the request, and what to count after it."""
    candidates = _rules_and_index()[1].get(url_name, ()) if url_name is not None else ()
    if not candidates:
        return None, []
    now = time.time()
    pending = []
    for rule in candidates:
        if not rule.applies(request, url_name):
            continue
        subject = rule.subject(request, view_kwargs)
        if subject is None:
            continue
        if rule.count == "request":
            used = rule.add_one(subject, now)
            if used > rule.limit:
                _, retry = rule._window(now)
                return _refuse(request, rule, retry), pending
        elif rule.count == "not_found":
            used, retry = rule.used(subject, now)
            if used >= rule.limit:
                return _refuse(request, rule, retry), pending
            pending.append((rule, subject, None))
        elif rule.count == "new_details":
            details = rule.details_of(request)
            seen = rule.seen_details(subject, now)
            if details not in seen and len(seen) >= rule.limit:
                retry = int(min(seen.values()) + rule.window - now) + 1
                return _refuse(request, rule, retry), pending
            pending.append((rule, subject, details))
    return None, pending


def _refuse(request, rule: Rule, retry: int) -> Verdict:
    log.warning("Rate limit %s reached by %s on %s %s", rule.name, client_ip(request), request.method, request.path)
    return Verdict(rule=rule.name, retry_after=max(1, retry))


def record(response, pending: list) -> None:
    """After the view: count what the response shows happened."""
    now = time.time()
    for rule, subject, details in pending:
        if rule.count == "not_found" and response.status_code == 404:
            rule.add_one(subject, now)
        elif rule.count == "new_details" and response.status_code in (302, 303):
            if not response.get("Location", "").startswith("/"):  # went to the processor
                rule.remember_details(subject, details, now)


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' lockout page (AXES_LOCKOUT_CALLABLE): 429, when to try again, Retry-After."""
    from axes.helpers import get_cool_off

    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 3600
    return too_many(request, Verdict(rule="login", retry_after=seconds))
