"""Dates: one way to write them on pages, in emails and PDFs ("3 Dec 2026", and a moment as
"3 Dec 2026, 14:05"), and the order in which the company's locale types them in forms.

The locale comes from the company's time zone (America/New_York: the United States,
MM/DD/YYYY; Europe/London: the United Kingdom, DD/MM/YYYY; America/Toronto: Canada,
YYYY-MM-DD), through the CLDR data Babel ships. A time zone of no country (UTC) gets ISO.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import datetime as dt
import zoneinfo

from babel.core import Locale, UnknownLocaleError, get_global
from django.utils import dateformat, timezone
from django.utils.formats import get_format

from settle.formats.en.formats import DATE_FORMAT, DATETIME_FORMAT

FIELDS = {"y": ("%Y", "YYYY"), "M": ("%m", "MM"), "d": ("%d", "DD")}


@dataclass(frozen=True)
class DateOrder:
    strftime: str  # "%m/%d/%Y"
    placeholder: str  # "MM/DD/YYYY"


ISO = DateOrder("%Y-%m-%d", "YYYY-MM-DD")


@functools.cache
def date_order(time_zone: str) -> DateOrder:
    """The numeric date order of the country of `time_zone`, with four-digit years."""
    territory = get_global("zone_territories").get(time_zone)
    if not territory:
        return ISO
    try:
        pattern = Locale.parse(f"und_{territory}").date_formats["short"].pattern
    except (UnknownLocaleError, ValueError, KeyError):
        return ISO
    pattern = re.sub(r"'[^']*'", "", pattern)  # quoted literals
    order = list(dict.fromkeys(re.findall(r"[yMd]", pattern)))
    separator = re.search(r"[yMd]+([^yMd]+)[yMd]", pattern)
    sep = separator.group(1).strip() if separator else ""
    if sorted(order) != ["M", "d", "y"] or not sep or len(sep) > 1:
        return ISO
    return DateOrder(
        strftime=sep.join(FIELDS[f][0] for f in order),
        placeholder=sep.join(FIELDS[f][1] for f in order),
    )


@functools.lru_cache(maxsize=4096)
def format_day(value: dt.date, language: str) -> str:
    """`value` (a date) as `{{ value }}` shows it in `language` ("3 Dec 2026"); each distinct
    day is formatted once, for lists that show hundreds of dates from one year."""
    return dateformat.format(value, get_format("DATE_FORMAT", language))


def format_date(value: dt.date | None) -> str:
    """The date as every page shows it (the `|date` filter uses the same DATE_FORMAT)."""
    return dateformat.format(value, DATE_FORMAT) if value else ""


def format_datetime(value: dt.datetime | None, time_zone: str | None = None) -> str:
    """A moment as every page shows it ("3 Dec 2026, 14:05"; `|date:"DATETIME_FORMAT"` in templates).

    An aware time is shown in `time_zone` (the company's), or else in the current time zone,
    which pages set to the company's.
    """
    if not value:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value, zoneinfo.ZoneInfo(time_zone) if time_zone else None)
    return dateformat.format(value, DATETIME_FORMAT)
