"""Stripe's hosted checkout page, as served at a session's ``url``.

Routes (no authentication; the session id is the capability):

- ``GET  /c/pay/{session}``: the payment form (or a page saying the session
  is complete or expired);
- ``POST /c/pay/{session}``: Pay; success answers 303 to ``success_url`` with
  ``{CHECKOUT_SESSION_ID}`` replaced, anything else re-renders the form with
  the error;
- ``GET/POST /c/pay/{session}/authenticate``: the 3-D Secure step with
  "Complete authentication" and "Fail authentication";
- ``GET /receipts/{charge}``: a plain receipt (the charge's ``receipt_url``).

Form fields use the ids and names of Stripe's page so browser tests can fill
them: ``#email``, ``#cardNumber``, ``#cardExpiry``, ``#cardCvc``,
``#billingName``, ``#billingCountry``, ``#billingPostalCode``; the submit
button reads "Pay". Self-contained HTML and CSS; no external assets.
"""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from urllib.parse import parse_qsl

from . import checkout, money

COUNTRIES = [
    ("US", "United States"), ("CA", "Canada"), ("GB", "United Kingdom"),
    ("AU", "Australia"), ("NZ", "New Zealand"), ("IE", "Ireland"), ("FR", "France"),
    ("DE", "Germany"), ("ES", "Spain"), ("IT", "Italy"), ("NL", "Netherlands"),
    ("BE", "Belgium"), ("CH", "Switzerland"), ("AT", "Austria"), ("SE", "Sweden"),
    ("NO", "Norway"), ("DK", "Denmark"), ("FI", "Finland"), ("PT", "Portugal"),
    ("JP", "Japan"), ("SG", "Singapore"), ("HK", "Hong Kong"), ("MX", "Mexico"),
    ("BR", "Brazil"), ("IN", "India"), ("ZA", "South Africa"),
]

CSS = """
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",
Roboto,Helvetica,Arial,sans-serif;color:#1a1a1a;background:#fff}
.App{display:flex;flex-wrap:wrap;max-width:920px;margin:0 auto;padding:48px 16px}
.Summary{flex:1 1 380px;padding:0 40px 32px 0}.Form{flex:1 1 380px;padding:0 0 32px 40px;
border-left:1px solid #eee}.Business{font-weight:600;font-size:15px;margin-bottom:28px}
.PayLabel{color:#666;font-size:16px}.Total{font-size:36px;font-weight:600;margin:4px 0 28px}
.LineItem{display:flex;justify-content:space-between;padding:10px 0;font-size:14px}
.LineItem .Qty{color:#777;font-size:12px}.TotalRow{display:flex;justify-content:space-between;
border-top:1px solid #eee;padding-top:14px;margin-top:8px;font-weight:600}
h2{font-size:16px;font-weight:500;margin:24px 0 10px}label{display:block;font-size:13px;
color:#555;margin:14px 0 4px}input,select{width:100%;padding:10px 12px;font-size:16px;
border:1px solid #d9d9d9;border-radius:6px}input:focus,select:focus{outline:2px solid #635bff55;
border-color:#635bff}.Row{display:flex;gap:8px}.Row>div{flex:1}
.FieldError{color:#df1b41;font-size:13px;margin-top:4px}
.Notice{background:#fdecee;color:#a8123a;border-radius:6px;padding:10px 12px;margin:16px 0;
font-size:14px}.SubmitButton{width:100%;margin-top:24px;padding:14px;font-size:16px;
font-weight:600;color:#fff;background:#0074d4;border:0;border-radius:6px;cursor:pointer}
.SubmitButton.Fail{background:#fff;color:#df1b41;border:1px solid #df1b41}
.Cancel{display:inline-block;margin-top:20px;color:#0074d4;font-size:14px;text-decoration:none}
.Footer{color:#999;font-size:12px;margin-top:28px}.Test{display:inline-block;background:#ffde92;
color:#663c00;font-size:11px;font-weight:600;border-radius:4px;padding:2px 6px;margin-left:8px}
.Message{max-width:520px;margin:80px auto;text-align:center;padding:0 16px}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>"
    )


def _business_name(store, session: dict) -> str:
    meta = store.owner(session["id"])
    account = store.data["accounts"].get(meta["account"], {})
    profile = account.get("business_profile") or {}
    return profile.get("name") or account.get("settings", {}).get("dashboard", {}).get(
        "display_name") or "Business"


def _summary(store, session: dict) -> str:
    currency = session["currency"]
    rows = []
    for item in store.data["line_items"].get(session["id"], []):
        unit = money.format_amount(item["price"]["unit_amount"], currency)
        rows.append(
            f"<div class=\"LineItem\"><div><div class=\"Name\">{escape(item['description'])}"
            f"</div><div class=\"Qty\">Qty {item['quantity']} · {unit} each</div></div>"
            f"<div class=\"Amount\">{money.format_amount(item['amount_total'], currency)}"
            "</div></div>"
        )
    total = money.format_amount(session["amount_total"], currency)
    name = escape(_business_name(store, session))
    test = "" if session["livemode"] else "<span class=\"Test\">TEST MODE</span>"
    return (
        f"<section class=\"Summary\"><div class=\"Business\" id=\"businessName\">{name}{test}</div>"
        f"<div class=\"PayLabel\">Pay {name}</div>"
        f"<div class=\"Total\" id=\"totalAmount\">{total}</div>"
        f"<div class=\"LineItems\">{''.join(rows)}</div>"
        f"<div class=\"TotalRow\"><span>Total due</span><span>{total}</span></div></section>"
    )


def _field_error(field: str, errors: dict) -> str:
    if field not in errors:
        return ""
    return f"<div class=\"FieldError\" id=\"{field}-fieldError\" role=\"alert\">{escape(errors[field])}</div>"


def render_form(store, session: dict, values: dict | None = None, errors: dict | None = None,
                notice: str | None = None) -> str:
    """The payment form; ``values`` refill fields, ``errors`` mark them."""
    values = values or {}
    errors = errors or {}
    meta = store.owner(session["id"])
    account = store.data["accounts"].get(meta["account"], {})
    email = values.get("email", session.get("customer_email") or "")
    country = values.get("billingCountry") or account.get("country") or "US"

    def val(name):
        return escape(values.get(name, ""), quote=True)

    options = "".join(
        f"<option value=\"{code}\"{' selected' if code == country else ''}>{escape(label)}</option>"
        for code, label in COUNTRIES
    )
    notice_html = (
        f"<div class=\"Notice\" id=\"paymentError\" role=\"alert\">{escape(notice)}</div>"
        if notice else ""
    )
    cancel = ""
    if session.get("cancel_url"):
        cancel = (f"<a class=\"Cancel\" id=\"cancelLink\" href=\"{escape(session['cancel_url'], quote=True)}\">"
                  "← Cancel and go back</a>")
    form = f"""
<section class="Form">
<form method="post" action="/c/pay/{escape(session['id'])}" novalidate id="paymentForm">
<h2>Contact information</h2>
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" value="{escape(email, quote=True)}">
{_field_error('email', errors)}
<h2>Payment method</h2>
<label for="cardNumber">Card information</label>
<input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number"
 placeholder="1234 1234 1234 1234" value="{val('cardNumber')}">
{_field_error('cardNumber', errors)}
<div class="Row"><div>
<input id="cardExpiry" name="cardExpiry" autocomplete="cc-exp" placeholder="MM / YY"
 aria-label="Expiration" value="{val('cardExpiry')}">
{_field_error('cardExpiry', errors)}
</div><div>
<input id="cardCvc" name="cardCvc" inputmode="numeric" autocomplete="cc-csc" placeholder="CVC"
 aria-label="CVC" value="{val('cardCvc')}">
{_field_error('cardCvc', errors)}
</div></div>
<label for="billingName">Cardholder name</label>
<input id="billingName" name="billingName" autocomplete="cc-name" placeholder="Full name on card"
 value="{val('billingName')}">
{_field_error('billingName', errors)}
<label for="billingCountry">Country or region</label>
<select id="billingCountry" name="billingCountry" autocomplete="country">{options}</select>
{_field_error('billingCountry', errors)}
<input id="billingPostalCode" name="billingPostalCode" autocomplete="postal-code"
 placeholder="ZIP / Postal code" aria-label="ZIP" value="{val('billingPostalCode')}">
{_field_error('billingPostalCode', errors)}
{notice_html}
<button class="SubmitButton" type="submit" data-testid="hosted-payment-submit-button">Pay</button>
</form>
{cancel}
<div class="Footer">Powered by the Stripe emulator · Terms · Privacy</div>
</section>"""
    title = f"{_business_name(store, session)}"
    return _page(title, f"<main class=\"App\">{_summary(store, session)}{form}</main>")


def render_closed(store, session: dict | None) -> str:
    if session is None:
        return _page("Not found", "<div class=\"Message\"><h1>Something went wrong</h1>"
                     "<p>The page you were looking for could not be found.</p></div>")
    name = escape(_business_name(store, session))
    if session["status"] == "complete":
        link = ""
        if session.get("success_url"):
            link = (f"<p><a href=\"{escape(success_location(session), quote=True)}\">"
                    f"Return to {name}</a></p>")
        body = (f"<div class=\"Message\" id=\"sessionComplete\"><h1>Your payment is complete</h1>"
                f"<p>This checkout session has already been paid. Thank you.</p>{link}</div>")
        return _page("Payment complete", body)
    body = ("<div class=\"Message\" id=\"sessionExpired\"><h1>This checkout session has expired</h1>"
            f"<p>Please return to {name} to start again.</p></div>")
    return _page("Session expired", body)


def render_authentication(store, session: dict, token: str) -> str:
    total = money.format_amount(session["amount_total"], session["currency"])
    action = f"/c/pay/{escape(session['id'])}/authenticate"
    body = f"""
<div class="Message" id="threeDSecure">
<h1>3D Secure 2 Test Page</h1>
<p>{escape(_business_name(store, session))} requests authentication of a payment of
<strong>{total}</strong>. In test mode, choose the outcome.</p>
<form method="post" action="{action}"><input type="hidden" name="token" value="{escape(token)}">
<input type="hidden" name="action" value="complete">
<button class="SubmitButton" id="completeAuthentication" type="submit">Complete authentication</button></form>
<form method="post" action="{action}"><input type="hidden" name="token" value="{escape(token)}">
<input type="hidden" name="action" value="fail">
<button class="SubmitButton Fail" id="failAuthentication" type="submit">Fail authentication</button></form>
</div>"""
    return _page("Authenticate your payment", body)


def render_receipt(store, charge: dict) -> str:
    meta = store.owner(charge["id"])
    account = store.data["accounts"].get(meta["account"], {})
    name = escape((account.get("business_profile") or {}).get("name") or "")
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    paid = dt.datetime.fromtimestamp(charge["created"], dt.timezone.utc).strftime("%d %b %Y")
    body = (
        f"<div class=\"Message\" id=\"receipt\"><h1>Receipt from {name}</h1>"
        f"<p>Amount paid <strong>{money.format_amount(charge['amount'], charge['currency'])}"
        f"</strong></p><p>Date paid {paid}</p>"
        f"<p>Payment method {escape(card.get('brand', '').title())} – {escape(card.get('last4', ''))}</p>"
        f"<p>Receipt for {escape(charge['id'])}</p></div>"
    )
    return _page(f"Receipt from {name}", body)


def success_location(session: dict) -> str:
    return (session.get("success_url") or "").replace("{CHECKOUT_SESSION_ID}", session["id"])


# -- request handling ---------------------------------------------------------------

def handle(app, request):
    """Serve the page routes listed in the module docstring."""
    from .server import Response

    store = app.store
    match = re.fullmatch(r"/c/pay/([A-Za-z0-9_]+)(/authenticate)?/?", request.path)
    receipt = re.fullmatch(r"/receipts/(ch_[A-Za-z0-9]+)", request.path)
    with store.lock:
        if receipt and request.method == "GET":
            charge = store.find(receipt.group(1))
            if charge is None or charge.get("object") != "charge":
                return Response.html(404, render_closed(store, None))
            return Response.html(200, render_receipt(store, charge))
        if not match:
            return Response.html(404, render_closed(store, None))
        session_id, authenticate = match.group(1), bool(match.group(2))
        session = store.find(session_id)
        if session is None or session.get("object") != "checkout.session":
            return Response.html(404, render_closed(store, None))
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        query = dict(parse_qsl(request.query))
        if authenticate:
            return _handle_authentication(app, store, session, request.method, form, query)
        if request.method == "GET":
            from . import operations

            operations.refresh(store, session)
            if session["status"] != "open":
                return Response.html(200, render_closed(store, session))
            return Response.html(200, render_form(store, session))
        if request.method != "POST":
            return Response.html(405, render_closed(store, None))
        result = checkout.submit_payment(store, session_id, form)
        store.save()
        return _answer(store, session, result, form)


def _answer(store, session, result, form):
    from .server import Response

    if result.kind == "succeeded" or (result.kind == "closed" and session["status"] == "complete"):
        if session.get("success_url"):
            return Response.redirect(success_location(session))
        return Response.html(200, render_closed(store, session))
    if result.kind == "closed":
        return Response.html(200, render_closed(store, session))
    if result.kind == "requires_action":
        return Response.redirect(f"/c/pay/{session['id']}/authenticate?token={result.token}")
    values = dict(form)
    if result.kind == "field_error":
        return Response.html(200, render_form(store, session, values, {result.field: result.message}))
    return Response.html(200, render_form(store, session, values, notice=result.message))


def _handle_authentication(app, store, session, method, form, query):
    from .server import Response

    if method == "GET":
        token = query.get("token", "")
        if session["status"] != "open" or checkout.pending_authentication(
                store, session["id"], token) is None:
            return Response.redirect(f"/c/pay/{session['id']}")
        return Response.html(200, render_authentication(store, session, token))
    approve = form.get("action") == "complete"
    result = checkout.finish_authentication(store, session["id"], form.get("token", ""), approve)
    store.save()
    if result.kind == "field_error":  # token already used: back to the form
        return Response.redirect(f"/c/pay/{session['id']}")
    return _answer(store, session, result, {"email": session.get("customer_email") or ""})
