"""`{% load badges %}`: small pieces of markup repeated on every row of a list.

A tag costs far less than an `{% include %}` per row, and writes the same markup (ending in a
newline, as the included files did).
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

_STATUS_BADGES = {
    "paid": '<span class="badge paid">Paid</span>\n',
    "overdue": '<span class="badge overdue">Overdue</span>\n',
    "void": '<span class="badge void">Voided</span>\n',
    "partially_paid": '<span class="badge partially_paid">Partially paid</span>\n',
}
_UNPAID_BADGE = '<span class="badge unpaid">Unpaid</span>\n'


@register.simple_tag
def status_badge(status):
    """An invoice's status as a badge; any other value reads Unpaid."""
    return mark_safe(_STATUS_BADGES.get(status, _UNPAID_BADGE))


@register.simple_tag
def client_processor(client):
    """The client's credit card processor, as the client list and page show it (S1, S4)."""
    processor = client.default_processor
    if processor:
        if not processor.is_connected:
            return format_html('{} <span class="muted">(disconnected)</span>\n', processor.name)
        return format_html("{}\n", processor.name)
    if client.no_card_payments:
        return "No card payments\n"
    return "The company default\n"
