"""Plain text: the one rule for every name, subject, email and free-text field (N4).

A name or subject ends up in an email header, a PDF, a page and the processor's
dashboard, so it must be one line of plain text: no markup, no control character
(CR, LF, NUL and the other C0/C1 codes, tab included), no lone surrogate. Multi-line
fields (an address, a message body, notes) keep their line breaks and tabs and are
held to the rest of the rule.

Forms use the Django validators (`plain_line`, `plain_text`); services call
`check_plain_text`; the data migration that cleaned older rows uses `clean_line`.
"""

import re

from django.core.exceptions import ValidationError

from settle.core.errors import SettleError

_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
_TAG = re.compile(r"<[^<>]*>")
# C0 controls, DEL, C1 controls, lone surrogates and the two non-characters of the BMP.
_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# The same, but a multi-line field keeps tab, LF and CR.
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

MARKUP_MESSAGE = "Remove the HTML markup (such as “<script>”); plain text only."
LINE_MESSAGE = "Use one line of plain text: line breaks, tabs and other control characters are not allowed."
CONTROL_MESSAGE = "Remove the control characters; plain text only."


def has_markup(value: str) -> bool:
    return bool(value) and bool(_MARKUP.search(value))


def plain_text_error(value: str, *, multiline: bool = False) -> str | None:
    """The user's sentence saying why `value` is not plain text, or None when it is."""
    if not value:
        return None
    if (_CONTROL_MULTILINE if multiline else _CONTROL_LINE).search(value):
        return CONTROL_MESSAGE if multiline else LINE_MESSAGE
    if _MARKUP.search(value):
        return MARKUP_MESSAGE
    return None


def plain_line(value: str) -> None:
    """Django validator for one-line fields: names, subjects, references, email addresses."""
    error = plain_text_error(value)
    if error:
        raise ValidationError(error, code="plain_text")


def plain_text(value: str) -> None:
    """Django validator for multi-line fields: addresses, message bodies, notes."""
    error = plain_text_error(value, multiline=True)
    if error:
        raise ValidationError(error, code="plain_text")


def check_plain_text(value: str, *, field: str, label: str = "", multiline: bool = False) -> None:
    """Service-side check: raise SettleError(field=field) when `value` is not plain text."""
    error = plain_text_error(value, multiline=multiline)
    if error:
        raise SettleError(f"{label}: {error}" if label else error, field=field)


def clean_line(value: str) -> str:
    """`value` made plain: tags dropped, control characters turned to spaces, spaces collapsed.

    The result passes `plain_line` (it may be empty).
    """
    text = _CONTROL_LINE.sub(" ", value or "")
    while True:
        stripped = _TAG.sub("", text)
        if stripped == text:
            break
        text = stripped
    text = re.sub(r"<(?=\s*/?\s*[a-zA-Z!?])", "", text)
    return " ".join(text.split())
