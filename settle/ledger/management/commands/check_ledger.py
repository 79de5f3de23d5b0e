"""`manage.py check_ledger [--company ID]`: re-check the ledger's invariants in SQL (L2).

Prints each fault with the ids involved and exits with status 1, or prints "Ledger OK"
and exits with status 0.
"""

from django.core.management.base import BaseCommand, CommandError

from settle.companies.models import Company
from settle.ledger.integrity import find_faults


class Command(BaseCommand):
    help = "Check that every journal entry balances and the ledger agrees with invoices; exit 1 on any fault."

    def add_arguments(self, parser):
        parser.add_argument("--company", type=int, help="Check only the company with this id.")

    def handle(self, *args, company=None, **options):
        scope = None
        if company is not None:
            scope = Company.objects.filter(pk=company).first()
            if scope is None:
                raise CommandError(f"No company with id {company}.", returncode=2)
        faults = find_faults(company=scope)
        for fault in faults:
            self.stdout.write(fault)
        if faults:
            raise CommandError(f"{len(faults)} ledger fault(s) found.", returncode=1)
        self.stdout.write("Ledger OK")
