"""Headless Debian Chromium for the browser tests, driven by Playwright's sync API."""

import contextlib
import os

# Playwright runs an event loop in the test's thread; the Django ORM calls the tests make
# between browser steps are synchronous and safe there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
# As root, without a sandbox; no background traffic (the machine has no network but loopback).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@contextlib.contextmanager
def chromium_context(*, timeout_ms: int = 10_000, **options):
    """Yields a fresh browser context (Playwright's `new_context` options, e.g.
    java_script_enabled=False); every page opened from it waits up to `timeout_ms`."""
    from playwright.sync_api import sync_playwright

    from django.db import connections

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**options)
            context.set_default_timeout(timeout_ms)
            yield context
        finally:
            browser.close()
            # A database connection the test opened while Playwright ran (the ORM calls between
            # browser steps) otherwise outlived the test session on PostgreSQL, and the test
            # database could not be dropped. One inside a test's transaction is left to it.
            for connection in connections.all(initialized_only=True):
                if not connection.in_atomic_block:
                    connection.close()


def sign_in(page, base_url: str, email: str, password: str) -> None:
    """Log in through the login page and wait for the signed-in top bar."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button:has-text('Log in')")
    expect(page.locator(".company-name")).to_be_visible()
