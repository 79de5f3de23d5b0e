"""One way to write a date everywhere: on pages, in emails, in PDFs ("3 Dec 2026")."""

import datetime as dt

from django.utils import dateformat

from settle.formats.en.formats import DATE_FORMAT


def format_date(value: dt.date | None) -> str:
    """The date as every page shows it (the `|date` filter uses the same DATE_FORMAT)."""
    return dateformat.format(value, DATE_FORMAT) if value else ""
