"""The chart of accounts and the double-entry journal (L1–L3).

Writes go through `settle.ledger.services` only. Posted entries are immutable, in depth:

- `JournalEntry`/`JournalLine` `.save()` and `.delete()` refuse to touch an existing row;
- the database refuses lines that are not one-sided and positive (check constraint);
- triggers (migration 0003) refuse UPDATE of entries and lines on both databases, refuse
  DELETE on PostgreSQL, and on PostgreSQL a deferred constraint trigger refuses, at
  commit, any entry with fewer than two lines or unequal debits and credits;
- `manage.py check_ledger` re-checks every invariant in SQL.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from settle.core.errors import ImmutableRecord


class AccountType(models.TextChoices):
    ASSET = "asset", "Asset"
    LIABILITY = "liability", "Liability"
    EQUITY = "equity", "Equity"
    INCOME = "income", "Income"
    EXPENSE = "expense", "Expense"


# Debit-normal types: a balance is debits minus credits; the rest are credits minus debits.
DEBIT_NORMAL = {AccountType.ASSET, AccountType.EXPENSE}


class AccountRole(models.TextChoices):
    """What the books use an account for; lets code find accounts without matching names."""

    NONE = "", "—"
    BANK = "bank", "Bank"
    CASH = "cash", "Cash"
    RECEIVABLE = "receivable", "Accounts receivable"
    STRIPE_CLEARING = "stripe_clearing", "Card processor clearing"
    SALES = "sales", "Sales"
    SALES_TAX = "sales_tax", "Sales tax"
    CARD_FEES = "card_fees", "Card processing fees"
    CUSTOMER_CREDIT = "customer_credit", "Customer credit"
    DISPUTED_PAYMENTS = "disputed_payments", "Disputed payments"  # R7: held by the processor while disputed
    CHARGEBACKS = "chargebacks", "Chargebacks"  # R7: disputes lost


class Account(models.Model):
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="accounts")
    code = models.CharField(max_length=10)
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=AccountType.choices)
    role = models.CharField(max_length=24, choices=AccountRole.choices, blank=True, default="")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="account_code_unique_per_company"),
            models.UniqueConstraint(fields=["company", "name"], name="account_name_unique_per_company"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_debit_normal(self) -> bool:
        return self.type in DEBIT_NORMAL

    @property
    def is_bank_or_cash(self) -> bool:
        return self.role in {AccountRole.BANK, AccountRole.CASH}


class JournalEntry(models.Model):
    """A posted journal entry. Never edited or deleted; corrected by a reversing entry."""

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="journal_entries")
    number = models.PositiveIntegerField()
    date = models.DateField()
    memo = models.CharField(max_length=255, blank=True)
    # What produced it, e.g. "invoice:12", "manual_payment:4", "card_payment:7".
    source = models.CharField(max_length=64, blank=True, db_index=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "number"]
        verbose_name_plural = "journal entries"
        # The journal lists entries newest first, a page at a time.
        indexes = [models.Index(fields=["company", "date", "number"], name="entry_company_date_number")]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="entry_number_unique_per_company"),
        ]

    def __str__(self) -> str:
        return f"Entry {self.number} on {self.date}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableRecord("A posted journal entry cannot be changed; post a reversing entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord("A posted journal entry cannot be deleted; post a reversing entry instead.")


class JournalLine(models.Model):
    """One side of a posted entry. `company` and `date` are copies of the entry's, written with
    the line, so the reports' indexes lead with the company and read no join."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    debit = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal("0"))
    credit = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal("0"))
    description = models.CharField(max_length=255, blank=True)
    # Lines on a receivable account name their invoice, so A/R aging ties to the ledger.
    invoice = models.ForeignKey(
        "sales.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="journal_lines"
    )

    class Meta:
        ordering = ["pk"]
        indexes = [
            # The register pages by (date, id) within one account; reports filter by account and date.
            models.Index(fields=["company", "account", "date", "id"], name="line_company_account_date"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(debit__gt=0, credit=0) | models.Q(debit=0, credit__gt=0)),
                name="journal_line_one_sided_positive",
            ),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableRecord("A posted journal line cannot be changed.")
        if self.company_id is None:
            self.company_id = self.entry.company_id
        if self.date is None:
            self.date = self.entry.date
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecord("A posted journal line cannot be deleted.")

    @property
    def amount(self) -> Decimal:
        return self.debit - self.credit


class DailyBalance(models.Model):
    """A kept balance: one account's debit and credit totals for one day (L4).

    Amounts are exact integer ten-thousandths (`selectors.units`). Written only by
    `post_journal_entry`, in the posting transaction, by an upsert that adds to the row, so
    concurrent postings cannot lose an update. A balance as of a date is the sum of the
    rows up to it: its cost grows with the days that have postings, not with the lines.
    `check_ledger` compares every row with the lines it stands for.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="daily_balances")
    date = models.DateField()
    debit_units = models.BigIntegerField(default=0)
    credit_units = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["account", "date"]
        constraints = [
            models.UniqueConstraint(fields=["company", "account", "date"], name="daily_balance_one_per_account_day"),
        ]

    def __str__(self) -> str:
        return f"Account {self.account_id} on {self.date}"


class OpenReceivable(models.Model):
    """A kept balance: what the company's invoices due on one day still have open (L4).

    The net of the journal lines on receivable-role accounts that name an invoice, grouped by
    that invoice's due date, in exact ten-thousandths. Written only by the posting services,
    in the posting transaction, by an upsert that adds to the row (as `DailyBalance`). The
    dashboard's aging reads one row per due date instead of one per invoice; `check_ledger`
    compares every row with the lines it stands for.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    due_date = models.DateField()
    units = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["company", "due_date"]
        constraints = [
            models.UniqueConstraint(fields=["company", "due_date"], name="open_receivable_one_per_due_date"),
        ]

    def __str__(self) -> str:
        return f"Open receivables due {self.due_date}"


class PeriodLock(models.Model):
    """Nothing dated on or before `end_date` may be created, changed or reversed (L3).

    Its row is also the company's journal-entry counter: a posting takes the row lock and its
    entry numbers in one `UPDATE … RETURNING` of `last_entry_number`.
    """

    company = models.OneToOneField("companies.Company", on_delete=models.CASCADE, related_name="period_lock")
    end_date = models.DateField(null=True, blank=True)
    last_entry_number = models.PositiveIntegerField(default=0)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
