"""What the payments services tell other apps, sent inside the transaction of the change.

Receivers run in that transaction (an error rolls the change back) and are registered by
the apps that listen (the public API's webhooks, `settle.api.apps`), so payments never imports them.
"""

from django.dispatch import Signal

# `refund`: a refund of a card payment was booked (R6).
payment_refunded = Signal()
