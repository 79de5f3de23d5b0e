"""What the sales services tell other apps, sent inside the transaction of the change.

Receivers run in that transaction (an error rolls the change back) and are registered by
the apps that listen (the public API's webhooks, `settle.api.apps`), so sales never imports them.
"""

from django.dispatch import Signal

# `invoice`: the invoice (locked by the sender, current) whose balance a payment brought to zero,
# or an invoice paid at issue (S3).
invoice_paid = Signal()
