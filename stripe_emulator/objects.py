"""Builders for Stripe objects, shaped like Stripe's published samples.

Each ``build_*`` returns a new plain dict holding exactly the fields of the
2023-08-16 schema (``shared/stripe/openapi-subset-v2.json``) for that object, with
values as Stripe would set them for a card payment through Checkout. Builders
never touch the store; ``operations.py`` stores and links the results.
"""

from __future__ import annotations

from . import ids

API_VERSION = "2026-10-28.endive"  # what stripe-python 16.1.0 pins


def _address(country=None, postal_code=None) -> dict:
    return {
        "city": None, "country": country, "line1": None, "line2": None,
        "postal_code": postal_code, "state": None,
    }


def _empty_requirements() -> dict:
    return {
        "alternatives": [], "current_deadline": None, "currently_due": [],
        "disabled_reason": None, "errors": [], "eventually_due": [],
        "past_due": [], "pending_verification": [],
    }


def build_account(
    *, account_id: str, business_name: str, country: str = "US",
    default_currency: str = "usd", email: str | None = None, created: int | None = None,
) -> dict:
    """A standard account that can take card payments and receive payouts."""
    created = created or ids.now()
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "mcc": "5734", "name": business_name, "product_description": None,
            "support_address": None, "support_email": email,
            "support_phone": None, "support_url": None, "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": country,
        "created": created,
        "default_currency": default_currency,
        "details_submitted": True,
        "email": email,
        "external_accounts": {
            "object": "list", "data": [], "has_more": False,
            "url": f"/v1/accounts/{account_id}/external_accounts",
        },
        "future_requirements": _empty_requirements(),
        "metadata": {},
        "payouts_enabled": True,
        "requirements": _empty_requirements(),
        "settings": {
            "branding": {
                "icon": None, "logo": None, "primary_color": None,
                "secondary_color": None,
            },
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": True},
                "statement_descriptor_prefix": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": business_name, "timezone": "Etc/UTC"},
            "payments": {
                "statement_descriptor": statement_descriptor(business_name),
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": created, "ip": "127.0.0.1", "user_agent": None},
        "type": "standard",
    }


def statement_descriptor(name: str) -> str:
    """Stripe's 5-22 character upper-case descriptor derived from a name."""
    cleaned = "".join(ch for ch in name.upper() if ch not in "<>\\'\"*")[:22].strip()
    return cleaned if len(cleaned) >= 5 else (cleaned + " ONLINE")[:22]


def build_price(*, price_data: dict, currency: str, unit_amount: int, livemode: bool,
                product_id: str) -> dict:
    """An inactive one-time price created inline from ``price_data``."""
    return {
        "id": ids.new_id("price"),
        "object": "price",
        "active": False,
        "billing_scheme": "per_unit",
        "created": ids.now(),
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": livemode,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product_id,
        "recurring": None,
        "tax_behavior": price_data.get("tax_behavior") or "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def build_product(*, product_id: str, product_data: dict, livemode: bool, metadata: dict) -> dict:
    """The product Checkout creates from ``price_data[product_data]``."""
    created = ids.now()
    images = product_data.get("images") or []
    return {
        "id": product_id,
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": product_data.get("description") or None,
        "features": [],
        "images": list(images.values()) if isinstance(images, dict) else list(images),
        "livemode": livemode,
        "metadata": metadata,
        "name": product_data["name"],
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": product_data.get("tax_code") or None,
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def build_line_item(*, description: str, price: dict, quantity: int) -> dict:
    """A Checkout line item (``object: item``) without tax or discounts."""
    subtotal = price["unit_amount"] * quantity
    return {
        "id": ids.new_id("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": subtotal,
        "amount_tax": 0,
        "amount_total": subtotal,
        "currency": price["currency"],
        "description": description,
        "price": price,
        "quantity": quantity,
    }


def build_session(
    *, livemode: bool, currency: str, amount_total: int, url: str, params: dict,
    expires_at: int, created: int, metadata: dict,
) -> dict:
    """An open payment-mode Checkout Session."""
    return {
        "id": url.rsplit("/", 1)[-1],
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": False, "status": None},
        "billing_address_collection": params.get("billing_address_collection") or None,
        "cancel_url": params.get("cancel_url") or None,
        "client_reference_id": params.get("client_reference_id") or None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {"shipping_address": None, "submit": None},
        "customer": params.get("customer") or None,
        "customer_creation": (
            None if params.get("customer") else params.get("customer_creation") or "if_required"
        ),
        "customer_details": None,
        "customer_email": params.get("customer_email") or None,
        "expires_at": expires_at,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None, "custom_fields": None, "description": None,
                "footer": None, "metadata": {}, "rendering_options": None,
            },
        },
        "livemode": livemode,
        "locale": params.get("locale") or None,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_details": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": params.get("submit_type") or None,
        "subscription": None,
        "success_url": params.get("success_url") or None,
        "tax_id_collection": {"enabled": False},
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "url": url,
    }


def build_payment_intent(
    *, livemode: bool, amount: int, currency: str, metadata: dict,
    customer: str | None, description: str | None, receipt_email: str | None,
) -> dict:
    """A card PaymentIntent awaiting a payment method."""
    intent_id = ids.new_id("pi")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{ids.random_token(25)}",
        "confirmation_method": "automatic",
        "created": ids.now(),
        "currency": currency,
        "customer": customer,
        "description": description,
        "invoice": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": livemode,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_options": {
            "card": {
                "installments": None, "mandate_options": None, "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def card_details(card, *, three_d_secure: bool, postal_code: str | None, country: str) -> dict:
    """``payment_method_details`` of a card charge."""
    from .cards import fingerprint

    return {
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": "pass" if postal_code else None,
                "cvc_check": "fail" if card.outcome.code == "incorrect_cvc" else "pass",
            },
            "country": country,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "fingerprint": fingerprint(card.number),
            "funding": card.outcome.funding,
            "installments": None,
            "last4": card.last4,
            "mandate": None,
            "network": card.brand,
            "network_token": {"used": False},
            "three_d_secure": (
                {
                    "authentication_flow": "challenge", "result": "authenticated",
                    "result_reason": None, "version": "2.2.0",
                }
                if three_d_secure else None
            ),
            "wallet": None,
        },
        "type": "card",
    }


def build_charge(
    *, livemode: bool, intent: dict, payment_method: str, details: dict,
    billing_details: dict, descriptor: str, receipt_base: str,
    outcome, paid: bool,
) -> dict:
    """A charge for ``intent``: succeeded when ``paid``, else failed."""
    charge_id = ids.new_id("ch")
    if paid:
        charge_outcome = {
            "network_status": "approved_by_network", "reason": None,
            "risk_level": "normal", "risk_score": 32,
            "seller_message": "Payment complete.", "type": "authorized",
        }
    else:
        charge_outcome = {
            "network_status": "declined_by_network", "reason": outcome.decline_code,
            "risk_level": "normal", "risk_score": 32,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }
    return {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if paid else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": billing_details,
        "calculated_statement_descriptor": descriptor,
        "captured": paid,
        "created": ids.now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None if paid else outcome.code,
        "failure_message": None if paid else outcome.message,
        "fraud_details": {},
        "invoice": None,
        "livemode": livemode,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": charge_outcome,
        "paid": paid,
        "payment_intent": intent["id"],
        "payment_method": payment_method,
        "payment_method_details": details,
        "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"{receipt_base}/{charge_id}" if paid else None,
        "refunded": False,
        "refunds": {
            "object": "list", "data": [], "has_more": False,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded" if paid else "failed",
        "transfer_data": None,
        "transfer_group": None,
    }


AVAILABILITY_DELAY = 2 * 86400  # the account's payout schedule ``delay_days``


def build_balance_transaction(
    *, amount: int, currency: str, fee: int, source: str, type: str,
    reporting_category: str, description: str | None, available_now: bool,
    fee_description: str = "Stripe processing fees",
) -> dict:
    """A balance transaction: ``net = amount - fee``; pending for two days
    (emulated clock) unless ``available_now``."""
    created = ids.now()
    return {
        "id": ids.new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created if available_now else created + AVAILABILITY_DELAY,
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": (
            [{
                "amount": fee, "application": None, "currency": currency,
                "description": fee_description, "type": "stripe_fee",
            }] if fee else []
        ),
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": "available" if available_now else "pending",
        "type": type,
    }


def build_refund(*, charge: dict, amount: int, reason: str | None, metadata: dict) -> dict:
    return {
        "id": ids.new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge["id"],
        "created": ids.now(),
        "currency": charge["currency"],
        "metadata": metadata,
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def build_webhook_endpoint(
    *, livemode: bool, url: str, enabled_events: list[str], api_version: str | None,
    description: str | None, metadata: dict,
) -> dict:
    return {
        "id": ids.new_id("we"),
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": None,
        "created": ids.now(),
        "description": description,
        "enabled_events": enabled_events,
        "livemode": livemode,
        "metadata": metadata,
        "status": "enabled",
        "url": url,
    }


def build_event(
    *, livemode: bool, type: str, data_object: dict, previous_attributes: dict | None,
    request_id: str | None, idempotency_key: str | None, pending_webhooks: int,
    api_version: str,
) -> dict:
    data = {"object": data_object}
    if previous_attributes:
        data["previous_attributes"] = previous_attributes
    return {
        "id": ids.new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": ids.now(),
        "data": data,
        "livemode": livemode,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type,
    }


def build_dispute(*, charge: dict, amount: int, reason: str, brand: str,
                  balance_transaction: dict) -> dict:
    created = ids.now()
    evidence_fields = (
        "access_activity_log billing_address cancellation_policy "
        "cancellation_policy_disclosure cancellation_rebuttal customer_communication "
        "customer_email_address customer_name customer_purchase_ip customer_signature "
        "duplicate_charge_documentation duplicate_charge_explanation duplicate_charge_id "
        "product_description receipt refund_policy refund_policy_disclosure "
        "refund_refusal_explanation service_date service_documentation shipping_address "
        "shipping_carrier shipping_date shipping_documentation shipping_tracking_number "
        "uncategorized_file uncategorized_text"
    ).split()
    return {
        "id": ids.new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [balance_transaction],
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "evidence": {name: None for name in evidence_fields},
        "evidence_details": {
            "due_by": created + 7 * 86400, "has_evidence": False,
            "past_due": False, "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": charge["livemode"],
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {"brand": brand, "network_reason_code": "10.4"}, "type": "card",
        },
        "reason": reason,
        "status": "needs_response",
    }


def build_customer(*, livemode: bool, params: dict, metadata: dict) -> dict:
    return {
        "id": ids.new_id("cus", 14),
        "object": "customer",
        "address": params.get("address") or None,
        "balance": 0,
        "created": ids.now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description") or None,
        "discount": None,
        "email": params.get("email") or None,
        "invoice_prefix": ids.random_token(8).upper(),
        "invoice_settings": {
            "custom_fields": None, "default_payment_method": None,
            "footer": None, "rendering_options": None,
        },
        "livemode": livemode,
        "metadata": metadata,
        "name": params.get("name") or None,
        "next_invoice_sequence": 1,
        "phone": params.get("phone") or None,
        "preferred_locales": list(params.get("preferred_locales") or []),
        "shipping": None,
        "tax_exempt": params.get("tax_exempt") or "none",
        "test_clock": None,
    }



PAYOUT_TRANSIT = 86400  # a standard payout arrives a day after it is created


def build_payout(*, livemode: bool, amount: int, currency: str, destination: str) -> dict:
    """A standard payout of the schedule to the account's bank account, on its
    way; its balance transactions are listed (reconciliation ``completed``)."""
    created = ids.now()
    return {
        "id": ids.new_id("po"),
        "object": "payout",
        "amount": amount,
        "arrival_date": created + PAYOUT_TRANSIT,
        "automatic": True,
        "balance_transaction": None,
        "created": created,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": destination,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": livemode,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "reconciliation_status": "completed",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": "in_transit",
        "type": "bank_account",
    }


def build_balance(*, livemode: bool, available: dict, pending: dict) -> dict:
    """``GET /v1/balance``: per currency, all from card payments."""
    def amounts(totals: dict) -> list[dict]:
        return [{"amount": amount, "currency": currency, "source_types": {"card": amount}}
                for currency, amount in totals.items()]

    return {
        "object": "balance",
        "available": amounts(available),
        "livemode": livemode,
        "pending": amounts(pending),
    }
