"""Text checks shared by services and forms: the plain-text rule of `settle.core.text` (N4)."""

from settle.core.text import MARKUP_MESSAGE, check_plain_text, has_markup, plain_line, plain_text

__all__ = ["MARKUP_MESSAGE", "check_plain_text", "has_markup", "plain_line", "plain_text"]
