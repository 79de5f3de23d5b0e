"""`{% load days %}` then `{{ invoice.issue_date|day }}`: a date as `{{ invoice.issue_date }}` shows it.

For list rows: each distinct day is formatted once (`settle.core.dates.format_day`).
"""

import datetime as dt

from django import template
from django.utils.translation import get_language

from settle.core.dates import format_day

register = template.Library()


@register.filter
def day(value):
    if type(value) is not dt.date:  # a datetime, None or anything else: shown as before
        return value
    return format_day(value, get_language())
