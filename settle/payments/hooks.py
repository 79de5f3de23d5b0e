"""Who else must hear of a booked refund: a small registry that other apps fill.

The refunds service calls `payment_refunded` explicitly, inside the transaction of the
change; the hooks run there (an error rolls the change back). The public API registers its
webhook (`payment.refunded`) in `ApiConfig.ready`, so payments never imports the API app.
"""

from collections.abc import Callable

_PAYMENT_REFUNDED: list[Callable] = []


def on_payment_refunded(hook: Callable) -> None:
    """Register `hook(refund)`, called once per booked refund; registering it again changes nothing."""
    if hook not in _PAYMENT_REFUNDED:
        _PAYMENT_REFUNDED.append(hook)


def payment_refunded(refund) -> None:
    """A refund of a card payment was booked (R6). Caller holds its invoice's lock."""
    for hook in _PAYMENT_REFUNDED:
        hook(refund)
