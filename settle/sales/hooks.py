"""Who else must hear of a paid invoice: a small registry that other apps fill.

The sales and payments services call `invoice_paid` explicitly, inside the transaction of
the change; the hooks run there (an error rolls the change back). The public API registers
its webhook (`invoice.paid`) in `ApiConfig.ready`, so sales never imports the API app.
"""

from collections.abc import Callable

_INVOICE_PAID: list[Callable] = []


def on_invoice_paid(hook: Callable) -> None:
    """Register `hook(invoice)`, called once per paid invoice; registering it again changes nothing."""
    if hook not in _INVOICE_PAID:
        _INVOICE_PAID.append(hook)


def invoice_paid(invoice) -> None:
    """A payment brought `invoice`'s balance to zero, or it was paid at issue (S3). Caller holds its lock."""
    for hook in _INVOICE_PAID:
        hook(invoice)
