"""Text checks shared by services and forms: markup is refused with a clear message (N4)."""

import re

from django.core.exceptions import ValidationError

from settle.core.errors import SettleError

_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
MARKUP_MESSAGE = "Remove the HTML markup (such as “<script>”); plain text only."


def has_markup(value: str) -> bool:
    return bool(value) and bool(_MARKUP.search(value))


def no_markup(value: str) -> None:
    """Django validator."""
    if has_markup(value):
        raise ValidationError(MARKUP_MESSAGE, code="markup")


def check_plain_text(value: str, *, field: str, label: str = "") -> None:
    """Service-side check: raise SettleError(field=field) when `value` contains markup."""
    if has_markup(value):
        raise SettleError(f"{label}: {MARKUP_MESSAGE}" if label else MARKUP_MESSAGE, field=field)
