"""`manage.py reconcile_payments [--days N]`: record paid card payments Settle missed (R1)."""

import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from settle.payments.services.reconciliation import DEFAULT_DAYS, reconcile_payments


class Command(BaseCommand):
    help = "Ask each connected processor for recent paid sessions and refunds and record those not yet in the books."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="How far back to look (default %(default)s).")

    def handle(self, *args, days: int, **options):
        report = reconcile_payments(since=timezone.now() - dt.timedelta(days=max(days, 1)))
        self.stdout.write(
            f"Checked {report.checked} paid session(s); recorded {len(report.recorded)} missing payment(s); "
            f"booked or reversed {len(report.refunds)} refund(s)."
        )
        for name in report.failed:
            self.stderr.write(f"Could not check processor {name}.")
