"""Every main page, as the demo's Creator and as the customer sees it, in a real browser:
axe-core finds no critical or serious violation (WCAG 2.1 A/AA and best practice), and at
390 px nothing widens the page (C1, S2, K2, K3).

Set SETTLE_SCREENSHOTS=<folder> to keep a desktop and a phone screenshot of every page.
"""

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from settle.companies.models import Level
from tests.browser_support import chromium_context, sign_in
from tests.demo_books import load_demo_books

from playwright.sync_api import expect  # noqa: E402

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
BLOCKING = {"critical", "serious"}
SCREENSHOTS = os.environ.get("SETTLE_SCREENSHOTS", "")

AXE = Axe()


@pytest.fixture
def books(live_server, emulator):
    return load_demo_books(emulator=emulator, base_url=live_server.url)


@pytest.fixture
def browser_context():
    with chromium_context(timeout_ms=15_000) as context:
        yield context


# What can change with the width of the screen; the phone pass runs only these rules.
LAYOUT_RULES = ["scrollable-region-focusable", "color-contrast", "target-size", "meta-viewport"]


def blocking_violations(page, rules: list[str] | None = None) -> list[str]:
    """axe-core's critical and serious findings on the page (all rules, or `rules`), one line per rule."""
    options = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    results = AXE.run(page, options=options).response
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]


MISSING_REFERENCES = """() => {
  const missing = [];
  for (const el of document.querySelectorAll("[aria-describedby], [aria-labelledby], label[for]")) {
    const ids = (el.getAttribute("aria-describedby") || "") + " " + (el.getAttribute("aria-labelledby") || "")
      + " " + (el.getAttribute("for") || "");
    for (const id of ids.split(/\\s+/).filter(Boolean)) {
      if (!document.getElementById(id)) missing.push(`${el.tagName.toLowerCase()} -> #${id}`);
    }
  }
  return missing;
}"""


def missing_references(page) -> list[str]:
    """aria-describedby, aria-labelledby and label[for] that name an id the page does not have."""
    return page.evaluate(MISSING_REFERENCES)


def settle_layout(page) -> None:
    """Let scripts react to a viewport change (two animation frames)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def shoot(page, name: str, size: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SCREENSHOTS}/{name.replace(' ', '-')}-{size}.png", full_page=True)


def audit(page, url: str, name: str, problems: dict[str, list[str]]) -> None:
    """Open `url` at desktop and phone width; note axe findings and sideways overflow under `name`."""
    page.set_viewport_size(DESKTOP)
    response = page.goto(url)
    assert response is not None and response.status < 400, f"{name}: {url} answered {response and response.status}"
    audit_current(page, name, problems)


def audit_current(page, name: str, problems: dict[str, list[str]]) -> None:
    page.set_viewport_size(DESKTOP)
    settle_layout(page)
    found = blocking_violations(page)
    found += [f"no such id: {ref}" for ref in missing_references(page)]
    shoot(page, name, "desktop")
    page.set_viewport_size(PHONE)
    settle_layout(page)
    found += [f"phone: {line}" for line in blocking_violations(page, LAYOUT_RULES)]
    wider = overflow(page)
    if wider > 0:
        found.append(f"phone: the page is {wider}px wider than 390px")
    shoot(page, name, "phone")
    if found:
        problems[name] = found


def report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{name}:\n  " + "\n  ".join(lines) for name, lines in problems.items())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_public_and_customer_pages_pass_axe_and_fit_a_phone(live_server, books, browser_context):  # C1, K2, K3
    page = browser_context.new_page()
    problems: dict[str, list[str]] = {}
    for name, path in books.public_pages().items():
        audit(page, f"{live_server.url}{path}", name, problems)

    # K2 on a phone: the balance and Pay Invoice come before the invoice's lines.
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}{books.public_pages()['pay page']}")
    first_line = page.locator(".lines tbody tr").first.bounding_box()
    for what in ("[data-pay-balance]", "#pay-invoice"):
        box = page.locator(what).bounding_box()
        assert box["y"] + box["height"] <= first_line["y"], f"{what} is not above the line items"
        assert box["x"] + box["width"] <= PHONE["width"]

    # The forms with their errors showing.
    page.goto(f"{live_server.url}/login/")
    page.click("button:has-text('Log in')")
    audit_current(page, "login with errors", problems)
    page.goto(f"{live_server.url}/signup/")
    page.click("button:has-text('Create account')")
    audit_current(page, "sign-up with errors", problems)
    assert not problems, report(problems)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_every_main_page_passes_axe_and_fits_a_phone(live_server, books, browser_context):  # C1, C2, S2, S6, L4
    page = browser_context.new_page()
    sign_in(page, live_server.url, books.users[Level.CREATOR].email, books.passwords[Level.CREATOR])
    problems: dict[str, list[str]] = {}
    for name, path in books.pages(Level.CREATOR).items():
        audit(page, f"{live_server.url}{path}", name, problems)

    # S2 on a phone: the invoice page shows every total without sideways scrolling.
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}{books.pages(Level.CREATOR)['invoice page']}")
    for testid in ("subtotal", "tax", "total", "amount-paid", "balance-due"):
        total = page.get_by_test_id(testid)
        total.scroll_into_view_if_needed()
        box = total.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{testid} is cut off at 390px"

    # The invoice and journal forms, sent back with errors on their lines.
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/invoices/new/")
    page.fill("#id_lines-0-description", "Croissants")
    page.fill("#id_lines-0-quantity", "-1")
    page.click("button:has-text('Issue invoice')")
    expect(page.locator(".errorlist").first).to_be_visible()
    audit_current(page, "invoice form with errors", problems)
    page.goto(f"{live_server.url}/ledger/journal/new/")
    page.fill("#id_lines-0-debit", "abc")
    page.click("button:has-text('Post entry')")
    expect(page.locator(".errorlist").first).to_be_visible()
    audit_current(page, "journal form with errors", problems)

    # A page with a confirmation message.
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/clients/new/")
    page.fill("#id_name", "Corner Café")
    page.click("button:has-text('Save')")
    expect(page.locator(".messages")).to_be_visible()
    audit_current(page, "client page with a message", problems)
    assert not problems, report(problems)
