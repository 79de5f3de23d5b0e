"""A queryset compiled once and run with other values (`settle.core.compiled`) gives what Django's own
run of the same queryset gives: the row, its select_related rows, its annotations, converted values
(L2: the invoice a payment locks is the invoice as stored)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Sum
from django.test.utils import CaptureQueriesContext

from settle.core.compiled import CompiledQuery
from settle.ledger.models import Account
from settle.sales.models import Invoice, InvoiceLine
from tests.factories import make_company
from tests.sales.builders import make_invoice


def _invoice_with_totals(invoice_id, client_name):
    return (
        Invoice.objects.select_related("company", "client", "receivable_account")
        .annotate(
            line_total=Sum("lines__quantity"),
            named=Exists(Invoice.objects.filter(pk=OuterRef("pk"), client__name=client_name)),
        )
        .filter(pk=invoice_id)
    )


COMPILED = CompiledQuery(_invoice_with_totals, invoice_id=int, client_name=str)
LOCKED = CompiledQuery(
    lambda invoice_id: Invoice.objects.select_for_update(of=("self",)).select_related("client").filter(pk=invoice_id),
    invoice_id=int,
)


def _same(ours: Invoice, django: Invoice):
    assert type(ours) is Invoice and ours.pk == django.pk
    for field in Invoice._meta.concrete_fields:
        assert getattr(ours, field.attname) == getattr(django, field.attname), field.name
        assert type(getattr(ours, field.attname)) is type(getattr(django, field.attname)), field.name
    for related in ("company", "client", "receivable_account"):
        assert Invoice._meta.get_field(related).is_cached(ours)  # no query when used
        assert getattr(ours, related).__dict__.keys() >= {f.attname for f in type(getattr(ours, related))._meta.concrete_fields}
        assert getattr(ours, related).pk == getattr(django, related).pk
    assert ours.line_total == django.line_total and type(ours.line_total) is Decimal
    assert ours.named is django.named


def test_compiled_query_gives_what_django_gives(company):  # L2
    first = make_invoice(company, lines=[("Cake", "2", "10.50"), ("Tea", "3", "1.25")])
    second = make_invoice(company, lines=[("Bread", "1", "4.00")])
    for invoice, name in ((first, first.client.name), (second, "Someone else"), (first, "Someone else")):
        ours = COMPILED.get(invoice_id=invoice.pk, client_name=name)
        _same(ours, _invoice_with_totals(invoice.pk, name).get())
        assert ours.line_total == sum(line.quantity for line in InvoiceLine.objects.filter(invoice=invoice))
        assert ours.named is (name == invoice.client.name)
    with CaptureQueriesContext(connection) as queries:
        ours = COMPILED.get(invoice_id=second.pk, client_name="x")
        assert ours.client.name == second.client.name and ours.company.currency == company.currency
    assert len(queries) == 1  # one statement, the related rows with it


def test_statement_text_does_not_change_with_the_values(company):  # L2
    invoices = [make_invoice(company), make_invoice(make_company())]
    sent = []

    def record(execute, sql, params, many, context):
        sent.append((sql, tuple(params)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        for invoice in invoices:
            assert COMPILED.get(invoice_id=invoice.pk, client_name="x").pk == invoice.pk
    assert len(sent) == 2 and sent[0][0] == sent[1][0]  # one text, so prepared once per connection
    assert sent[0][1] != sent[1][1]


def test_no_row_and_wrong_values(company):  # L2
    assert COMPILED.first(invoice_id=10**9, client_name="x") is None
    with pytest.raises(Invoice.DoesNotExist):
        COMPILED.get(invoice_id=10**9, client_name="x")
    with pytest.raises(TypeError, match="invoice_id must be int"):
        COMPILED.get(invoice_id="1", client_name="x")
    with pytest.raises(TypeError, match="Give exactly invoice_id, client_name"):
        COMPILED.get(invoice_id=1)


def test_a_value_the_statement_does_not_take_is_refused_when_compiled(company):  # L2
    unused = CompiledQuery(lambda invoice_id: Invoice.objects.filter(pk=1), invoice_id=int)
    with pytest.raises(ValueError, match="does not take invoice_id"):
        unused.first(invoice_id=1)
    with pytest.raises(TypeError, match="Only int, str and date"):
        CompiledQuery(lambda when: Invoice.objects.filter(issue_date=when), when=object)


def test_locking_query_runs_in_a_transaction(company):  # L2
    invoice = make_invoice(company)
    with transaction.atomic():
        locked = LOCKED.get(invoice_id=invoice.pk)
    assert locked.pk == invoice.pk and locked.client.pk == invoice.client_id


ACCOUNTS = CompiledQuery(
    lambda company_id: Account.objects.filter(company_id=company_id, is_active=True).exclude(role="").order_by("code"),
    company_id=int,
)


def test_all_gives_every_row_in_the_query_order(company):  # L2
    other = make_company()
    for each in (company, other):
        ours = ACCOUNTS.all(company_id=each.pk)
        django = list(Account.objects.filter(company=each, is_active=True).exclude(role="").order_by("code"))
        assert [a.pk for a in ours] == [a.pk for a in django] and len(ours) > 3
        assert all(a.__dict__.keys() >= {f.attname for f in Account._meta.concrete_fields} for a in ours)
    assert ACCOUNTS.all(company_id=10**9) == []


@pytest.mark.parametrize("invoice_id, client_name", [(2**63, "x"), (-(2**63) - 1, "x"), (10**30, "x"), (1, "a\x00b")])
def test_a_value_no_column_can_hold_finds_no_row(company, invoice_id, client_name):  # L2
    """From a URL or a form (`/invoices/99999999999999999999/`, `?session_id=%00`): no row, as Django's
    own run answers, and no statement the database would refuse (an error page)."""
    invoice = make_invoice(company)
    assert COMPILED.first(invoice_id=invoice_id, client_name=client_name) is None
    assert COMPILED.all(invoice_id=invoice_id, client_name=client_name) == []
    with pytest.raises(Invoice.DoesNotExist):
        COMPILED.get(invoice_id=invoice_id, client_name=client_name)
    assert COMPILED.first(invoice_id=invoice.pk, client_name="x").pk == invoice.pk  # and the next run is as before


def _issued_between(company_id, start, end):
    return (
        Invoice.objects.filter(company_id=company_id, issue_date__range=(start, end)).order_by()
        .values("company_id").annotate(total=Sum("total")).values_list("total", "company_id")
    )


ISSUED_BETWEEN = CompiledQuery(_issued_between, company_id=int, start=dt.date, end=dt.date)
DUE_AFTER = CompiledQuery(
    lambda company_id, after: Invoice.objects.filter(company_id=company_id, due_date__gt=after).order_by("pk"),
    company_id=int, after=dt.date,
)


def test_dates_vary_and_rows_give_what_django_gives(company):  # L2
    """Dates may vary (as the backend passes them: a date on PostgreSQL, text on SQLite), and a
    queryset of values runs by `rows`, converted as Django's own run converts them (a Decimal sum)."""
    first = make_invoice(company, issue_date=dt.date(2026, 3, 2), lines=(("Bread", "3", "10.00"),))
    second = make_invoice(company, issue_date=dt.date(2026, 3, 20), lines=(("Cake", "1", "7.50"),))
    for start, end in [(dt.date(2026, 3, 1), dt.date(2026, 3, 31)), (dt.date(2026, 3, 10), dt.date(2026, 3, 31)),
                       (dt.date(2026, 4, 1), dt.date(2026, 4, 30))]:
        ours = ISSUED_BETWEEN.rows(company_id=company.pk, start=start, end=end)
        assert ours == list(_issued_between(company.pk, start, end))
    march = ISSUED_BETWEEN.rows(company_id=company.pk, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    assert march == [(first.total + second.total, company.pk)] and type(march[0][0]) is Decimal
    assert ISSUED_BETWEEN.rows(company_id=company.pk, start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 30)) == []
    assert [i.pk for i in DUE_AFTER.all(company_id=company.pk, after=first.due_date)] == [second.pk]
    assert [i.pk for i in DUE_AFTER.all(company_id=company.pk, after=first.due_date - dt.timedelta(days=1))] == [
        first.pk, second.pk]
    with pytest.raises(TypeError, match="after must be date"):
        DUE_AFTER.all(company_id=company.pk, after=dt.datetime(2026, 3, 1, 12))
    with pytest.raises(TypeError, match="runs by rows"):
        ISSUED_BETWEEN.all(company_id=company.pk, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    with pytest.raises(TypeError, match="runs by rows"):
        DUE_AFTER.rows(company_id=company.pk, after=first.due_date)
