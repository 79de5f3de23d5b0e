"""Email backends of Settle's own."""

from django.core.mail.backends.base import BaseEmailBackend


class OutboxBackend(BaseEmailBackend):
    """The embedded default (E2): accepts every message and delivers nothing.

    The OutgoingEmail row is the record; the browsable outbox (/outbox/) shows it.
    """

    def send_messages(self, email_messages):
        return len([m for m in email_messages if m.recipients()])
