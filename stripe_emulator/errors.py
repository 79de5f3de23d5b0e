"""Stripe's error object and the HTTP statuses that go with it.

Handlers raise ``StripeError``; the server renders ``{"error": {...}}`` with
the status. Field names follow Stripe's ``api_errors`` schema; absent optional
fields are omitted (the schema declares them as non-nullable strings).
"""

from __future__ import annotations

DOC_BASE = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An API error; ``body()`` is the JSON Stripe would send."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict:
        error = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOC_BASE + self.code.replace("_", "-")
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        if request_id:
            error["request_log_url"] = (
                f"https://dashboard.stripe.com/logs/{request_id}"
            )
        error.update(self.extra)
        return {"error": error}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """400 ``invalid_request_error`` (``parameter_invalid_*`` style)."""
    return StripeError(400, message, param=param, code=code)


def missing(param: str) -> StripeError:
    """400 for a missing required parameter, as Stripe words it."""
    return StripeError(
        400, f"Missing required param: {param}.", param=param,
        code="parameter_missing",
    )


def unknown_param(param: str) -> StripeError:
    return StripeError(
        400, f"Received unknown parameter: {param}", param=param,
        code="parameter_unknown",
    )


def no_such(kind: str, object_id: str, param: str) -> StripeError:
    """404 ``resource_missing`` (e.g. "No such charge: 'ch_123'")."""
    return StripeError(
        404, f"No such {kind}: '{object_id}'", param=param, code="resource_missing",
    )


def mask_key(key: str) -> str:
    """``sk_live_abc…wxyz`` -> ``sk_live_****wxyz`` for error messages."""
    parts = key.split("_")
    prefix = "_".join(parts[:2]) + "_" if len(parts) >= 3 else ""
    return f"{prefix}****{key[-4:]}"
