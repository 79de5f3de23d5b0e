"""`manage.py run_worker [--once] [--interval 2]`: send queued mail and run the periodic jobs (E1)."""

import logging
import signal

from django.core.management.base import BaseCommand

from settle.notifications import worker


class Command(BaseCommand):
    help = "Send queued mail (with retries) and run periodic jobs, until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Do one pass and exit (for cron or tests).")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds to wait between passes.")

    def handle(self, *args, once=False, interval=2.0, **options):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        if not once:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            logging.getLogger(__name__).info("Mail worker started (every %ss).", interval)
        worker.run_forever(interval=interval, once=once, should_stop=lambda: stopping)
