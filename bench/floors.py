"""Floors: the same answers as Settle's reports and writes, from hand-written SQL on the same tables.

Each floor is checked against Settle's own answer before it is timed (`check_*`), so a ratio
to its floor compares equal work. Amounts are summed as integer ten-thousandths, as the
selectors do. The SQL runs unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import connection, transaction

from settle.core.money import ZERO, quantize
from settle.ledger import selectors
from settle.ledger.selectors import SCALE, from_units

from .workload import Workload, invoice_lines

U = "CAST(ROUND({col} * 10000) AS BIGINT)"
NET = f"SUM({U.format(col='l.debit')} - {U.format(col='l.credit')})"


def _rows(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _day(value: dt.date):
    return connection.ops.adapt_datefield_value(value)


# --- reports --------------------------------------------------------------------------------


def trial_balance_sql(w: Workload, as_of: dt.date) -> dict[int, int]:
    """Net units per account with a balance, from the kept balances."""
    rows = _rows(
        "SELECT account_id, SUM(debit_units) - SUM(credit_units) FROM ledger_dailybalance "
        "WHERE company_id = %s AND date <= %s GROUP BY account_id",
        [w.company.pk, _day(as_of)],
    )
    return {account_id: int(net) for account_id, net in rows if net}


def trial_balance_from_lines_sql(w: Workload, as_of: dt.date) -> dict[int, int]:
    """The same figures summed over every journal line: what a trial balance costs without kept balances."""
    rows = _rows(
        f"SELECT l.account_id, {NET} FROM ledger_journalline l WHERE l.company_id = %s AND l.date <= %s "
        "GROUP BY l.account_id",
        [w.company.pk, _day(as_of)],
    )
    return {account_id: int(net) for account_id, net in rows if net}


def check_trial_balance(w: Workload, as_of: dt.date) -> None:
    settle = {row.account.pk: int(row.net * SCALE) for row in selectors.trial_balance(company=w.company, as_of=as_of)}
    for floor in (trial_balance_sql, trial_balance_from_lines_sql):
        if floor(w, as_of) != settle:
            raise RuntimeError(f"{floor.__name__} disagrees with selectors.trial_balance")


def aging_sql(w: Workload, as_of: dt.date) -> dict[int, list[Decimal]]:
    """Per client, the five aging buckets: receivable lines netted per invoice over all history."""
    rows = _rows(
        f"SELECT i.client_id, i.due_date, {NET} FROM ledger_journalline l "
        "JOIN ledger_account a ON a.id = l.account_id JOIN sales_invoice i ON i.id = l.invoice_id "
        "WHERE l.company_id = %s AND a.role = 'receivable' AND l.date <= %s "
        f"GROUP BY l.invoice_id, i.client_id, i.due_date HAVING {NET} <> 0",
        [w.company.pk, _day(as_of)],
    )
    by_client: dict[int, list[Decimal]] = {}
    for client_id, due, net in rows:
        due = due if isinstance(due, dt.date) else dt.date.fromisoformat(due)
        amount = from_units(net)
        buckets = by_client.setdefault(client_id, [ZERO] * 5)
        buckets[selectors.BUCKETS.index(selectors._bucket((as_of - due).days, amount))] += amount
    return by_client


def check_aging(w: Workload, as_of: dt.date) -> None:
    report = selectors.receivables_aging(company=w.company, as_of=as_of)
    settle = {row.client_id: row.buckets for row in report.rows if row.client_id is not None}
    if aging_sql(w, as_of) != settle:
        raise RuntimeError("aging_sql disagrees with selectors.receivables_aging")
    totals = selectors.receivables_aging_totals(company=w.company, as_of=as_of)
    if (totals.buckets, totals.credit) != (report.totals.buckets, report.totals.credit):
        raise RuntimeError("receivables_aging_totals disagrees with selectors.receivables_aging")


def register_last_page_sql(w: Workload, end: dt.date, size: int = 50) -> list[tuple]:
    """The last `size` lines of the receivable account up to `end`, with their running balances."""
    lines = _rows(
        "SELECT l.id, l.date, l.debit, l.credit, l.description, e.number, e.memo, i.number "
        "FROM ledger_journalline l JOIN ledger_journalentry e ON e.id = l.entry_id "
        "LEFT JOIN sales_invoice i ON i.id = l.invoice_id "
        "WHERE l.company_id = %s AND l.account_id = %s AND l.date <= %s ORDER BY l.date DESC, l.id DESC LIMIT %s",
        [w.company.pk, w.receivable.pk, _day(end), size],
    )[::-1]
    if not lines:
        return []
    first_id, first_date = lines[0][0], lines[0][1]
    (kept,) = _rows(
        "SELECT COALESCE(SUM(debit_units) - SUM(credit_units), 0) FROM ledger_dailybalance "
        "WHERE account_id = %s AND date < %s",
        [w.receivable.pk, first_date],
    )[0]
    (same_day,) = _rows(
        f"SELECT COALESCE({NET}, 0) FROM ledger_journalline l WHERE l.company_id = %s AND l.account_id = %s "
        "AND l.date = %s AND l.id < %s",
        [w.company.pk, w.receivable.pk, first_date, first_id],
    )[0]
    balance = from_units(int(kept) + int(same_day))
    out = []
    for line_id, _, debit, credit, *_ in lines:
        balance += Decimal(debit) - Decimal(credit)
        out.append((line_id, balance.quantize(Decimal("0.0001"))))
    return out


def register_last_page(w: Workload, end: dt.date, size: int = 50):
    return selectors.account_register_page(
        account=w.receivable, start=end - dt.timedelta(days=3650), end=end,
        before=f"{(end + dt.timedelta(days=1)).isoformat()}.0", size=size,
    )


def check_register(w: Workload, end: dt.date) -> None:
    page = register_last_page(w, end)
    settle = [(row.line_id, row.balance) for row in page.lines]
    if register_last_page_sql(w, end) != settle:
        raise RuntimeError("register_last_page_sql disagrees with selectors.account_register_page")


def statements_sql(w: Workload, start: dt.date, end: dt.date) -> tuple[int, int, int]:
    """(net profit of start..end, total assets at end, liabilities + equity + earnings at end), in units."""
    rows = _rows(
        "SELECT a.type, "
        "SUM(CASE WHEN b.date >= %s THEN b.debit_units - b.credit_units ELSE 0 END), "
        "SUM(b.debit_units - b.credit_units) "
        "FROM ledger_dailybalance b JOIN ledger_account a ON a.id = b.account_id "
        "WHERE b.company_id = %s AND b.date <= %s GROUP BY a.type",
        [_day(start), w.company.pk, _day(end)],
    )
    period = {t: int(p) for t, p, _ in rows}
    total = {t: int(n) for t, _, n in rows}
    profit = -(period.get("income", 0) + period.get("expense", 0))
    assets = total.get("asset", 0)
    others = -(total.get("liability", 0) + total.get("equity", 0) + total.get("income", 0) + total.get("expense", 0))
    return profit, assets, others


def check_statements(w: Workload, start: dt.date, end: dt.date) -> None:
    profit, assets, others = statements_sql(w, start, end)
    pnl = selectors.profit_and_loss(company=w.company, start=start, end=end)
    sheet = selectors.balance_sheet(company=w.company, as_of=end)
    settle = (int(pnl.net_profit * SCALE), int(sheet.total_assets * SCALE), int(sheet.total_liabilities_and_equity * SCALE))
    if (profit, assets, others) != settle or assets != others:
        raise RuntimeError("statements_sql disagrees with profit_and_loss / balance_sheet")


# --- writes ---------------------------------------------------------------------------------


def _insert_entry(cursor, company_id: int, entry: list) -> int:
    """A journal entry (date, memo, source) numbered from the period-lock row's counter; its id.
    On PostgreSQL the number and the row in one statement, as Settle's posting does."""
    bump = "UPDATE ledger_periodlock SET last_entry_number = last_entry_number + 1 WHERE company_id = %s"
    if connection.vendor == "postgresql":
        cursor.execute(
            f"WITH n AS ({bump} RETURNING company_id, last_entry_number) "
            "INSERT INTO ledger_journalentry (company_id, number, date, memo, source, created_at) "
            "SELECT company_id, last_entry_number, %s, %s, %s, CURRENT_TIMESTAMP FROM n RETURNING id",
            [company_id, *entry],
        )
    else:
        cursor.execute(bump + " RETURNING last_entry_number", [company_id])
        cursor.execute(
            "INSERT INTO ledger_journalentry (company_id, number, date, memo, source, created_at) "
            "VALUES (%s, %s, %s, %s, %s, CURRENT_TIMESTAMP) RETURNING id",
            [company_id, cursor.fetchone()[0], *entry],
        )
    return cursor.fetchone()[0]


def issue_invoice_sql(w: Workload, rng: random.Random) -> int:
    """The rows one issue_invoice writes, as raw INSERTs in one transaction: the floor for writes.

    Number, invoice, its lines, the journal entry (numbered from the period-lock row's counter),
    its lines, the kept balances and open receivables and the invoice's link to its entry; no
    validation, no period-lock check. Returns the invoice id.
    """
    company = w.company
    lines = invoice_lines(rng, w.tax_rate)
    priced = []
    for line in lines:
        amount = quantize(line.quantity * line.unit_price, "USD")
        tax = quantize(amount * line.tax_rate.rate / 100, "USD") if line.tax_rate else ZERO
        priced.append((line, amount, tax))
    subtotal = sum((a for _, a, _ in priced), ZERO)
    tax_total = sum((t for _, _, t in priced), ZERO)
    total = subtotal + tax_total
    today = _day(company.today())
    due_date = _day(company.today() + dt.timedelta(days=30))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE companies_company SET next_invoice_number = next_invoice_number + 1 WHERE id = %s "
            "RETURNING next_invoice_number", [company.pk],
        )
        number = f"INV-{cursor.fetchone()[0] - 1:04d}"
        client = rng.choice(w.clients)
        cursor.execute(
            "INSERT INTO sales_invoice (company_id, number, client_id, issue_date, due_date, terms, "
            "receivable_account_id, notes, subtotal, tax_total, total, amount_paid, amount_credited, created_at) "
            "VALUES (%s, %s, %s, %s, %s, 'net_30', %s, '', %s, %s, %s, 0, 0, CURRENT_TIMESTAMP) RETURNING id",
            [company.pk, number, client.pk, today, due_date, w.receivable.pk, subtotal, tax_total, total],
        )
        invoice_id = cursor.fetchone()[0]
        values, params = [], []
        for position, (line, amount, tax) in enumerate(priced, start=1):
            values.append("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
            params += [invoice_id, company.pk, position, line.description, line.quantity, line.unit_price,
                       line.tax_rate.pk if line.tax_rate else None, w.sales.pk, amount, tax]
        cursor.execute(
            "INSERT INTO sales_invoiceline (invoice_id, company_id, position, description, quantity, unit_price, "
            "tax_rate_id, income_account_id, amount, tax_amount) VALUES " + ", ".join(values), params,
        )
        entry_id = _insert_entry(cursor, company.pk, [today, f"Invoice {number}", f"invoice:{invoice_id}"])
        legs = [(w.receivable.pk, total, ZERO, invoice_id), (w.sales.pk, ZERO, subtotal, None)]
        if tax_total:
            legs.append((w.sales_tax.pk, ZERO, tax_total, None))
        cursor.execute(
            "INSERT INTO ledger_journalline (entry_id, company_id, date, account_id, debit, credit, description, "
            "invoice_id) VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(legs)),
            [p for account, dr, cr, inv in legs for p in (entry_id, company.pk, today, account, dr, cr, number, inv)],
        )
        cursor.execute(
            "INSERT INTO ledger_dailybalance (company_id, account_id, date, debit_units, credit_units) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s)"] * len(legs))
            + " ON CONFLICT (company_id, account_id, date) DO UPDATE SET "
            "debit_units = ledger_dailybalance.debit_units + excluded.debit_units, "
            "credit_units = ledger_dailybalance.credit_units + excluded.credit_units",
            [p for account, dr, cr, _ in legs for p in (company.pk, account, today, int(dr * SCALE), int(cr * SCALE))],
        )
        cursor.execute(
            "INSERT INTO ledger_openreceivable (company_id, due_date, units) VALUES (%s, %s, %s) "
            "ON CONFLICT (company_id, due_date) DO UPDATE SET units = ledger_openreceivable.units + excluded.units",
            [company.pk, due_date, int(total * SCALE)],
        )
        cursor.execute("UPDATE sales_invoice SET journal_entry_id = %s WHERE id = %s", [entry_id, invoice_id])
    return invoice_id


def record_manual_payment_sql(w: Workload, invoice_id: int) -> None:
    """The rows one record_manual_payment of half the invoice writes, as raw SQL in one transaction.

    The invoice's amount paid (its row update takes the lock), the journal entry (numbered from
    the period-lock row's counter) and its two lines, the kept balances, the open receivable of
    its due date, the payment row and the day's money received; no validation, no period-lock
    check, no look for open checkout sessions.
    """
    company = w.company
    today = _day(company.today())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT total, due_date, number FROM sales_invoice WHERE id = %s", [invoice_id])
        total, due_date, number = cursor.fetchone()
        amount = quantize(Decimal(total) / 2, "USD")
        cursor.execute(
            "UPDATE sales_invoice SET amount_paid = amount_paid + %s WHERE id = %s", [amount, invoice_id]
        )
        label = f"Payment for invoice {number}"
        entry_id = _insert_entry(cursor, company.pk, [today, label, f"manual_payment:invoice:{invoice_id}"])
        legs = [(w.bank.pk, amount, ZERO, None), (w.receivable.pk, ZERO, amount, invoice_id)]
        cursor.execute(
            "INSERT INTO ledger_journalline (entry_id, company_id, date, account_id, debit, credit, description, "
            "invoice_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s), (%s, %s, %s, %s, %s, %s, %s, %s)",
            [p for account, dr, cr, inv in legs for p in (entry_id, company.pk, today, account, dr, cr, label, inv)],
        )
        cursor.execute(
            "INSERT INTO ledger_dailybalance (company_id, account_id, date, debit_units, credit_units) VALUES "
            "(%s, %s, %s, %s, %s), (%s, %s, %s, %s, %s) ON CONFLICT (company_id, account_id, date) DO UPDATE SET "
            "debit_units = ledger_dailybalance.debit_units + excluded.debit_units, "
            "credit_units = ledger_dailybalance.credit_units + excluded.credit_units",
            [p for account, dr, cr, _ in legs for p in (company.pk, account, today, int(dr * SCALE), int(cr * SCALE))],
        )
        units = int(amount * SCALE)
        cursor.execute(
            "INSERT INTO ledger_openreceivable (company_id, due_date, units) VALUES (%s, %s, %s) "
            "ON CONFLICT (company_id, due_date) DO UPDATE SET units = ledger_openreceivable.units + excluded.units",
            [company.pk, due_date, -units],
        )
        cursor.execute(
            "INSERT INTO sales_manualpayment (company_id, invoice_id, date, amount, method, reference, "
            "deposit_account_id, journal_entry_id, created_by_id, created_at) "
            "VALUES (%s, %s, %s, %s, 'transfer', '', %s, %s, %s, CURRENT_TIMESTAMP)",
            [company.pk, invoice_id, today, amount, w.bank.pk, entry_id, w.creator.pk],
        )
        cursor.execute(
            "INSERT INTO sales_receivedday (company_id, date, units) VALUES (%s, %s, %s) "
            "ON CONFLICT (company_id, date) DO UPDATE SET units = sales_receivedday.units + excluded.units",
            [company.pk, today, units],
        )
