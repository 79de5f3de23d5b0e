"""Set-based writes for the batch services, in plain SQL where the ORM's bulk forms cost more Python than SQL.

`Model.objects.bulk_update` builds one `Case(When(pk=…))` expression per row and resolves each;
`update_by_pk` writes the same UPDATE from a dict. `insert_rows` is `bulk_create` for rows that
need no model instance (no save(), no signals, ids not wanted back). Both run on PostgreSQL
(one array per column, through `UNNEST`, as Django's own bulk_create does there) and SQLite
(VALUES lists), and adapt each value as the model field does. A few rows (up to
`SMALL_INSERT`, e.g. one invoice's lines) go as one VALUES list on both databases.

`insert_instance` is `Model.save(force_insert=True)` for a new row of a single-table model
with no `save()` of its own that matters here: one `INSERT … RETURNING`, no signals, no
save-time bookkeeping. The database's constraints and triggers apply as to any INSERT.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from django.db import connection, models

ROWS_PER_STATEMENT = 500
SMALL_INSERT = 20  # rows up to which one VALUES list is cheaper than arrays through UNNEST

# Fields whose database value on PostgreSQL is the Python value itself (Django's own
# get_db_prep_save returns it unchanged): their values are passed as they are.
_AS_IS_ON_POSTGRES = (models.DecimalField, models.CharField, models.TextField, models.IntegerField,
                      models.BooleanField, models.ForeignKey)


def _as_is(field) -> bool:
    if connection.vendor != "postgresql" or isinstance(field, models.DateTimeField):
        return False
    return isinstance(field, _AS_IS_ON_POSTGRES) or type(field) is models.DateField


def _column(field, values: list) -> list:
    if _as_is(field):
        return values
    return [field.get_db_prep_save(value, connection) for value in values]


def _array_type(field) -> str:
    return (field.rel_db_type(connection) if field.is_relation else field.db_type(connection)) + "[]"


def update_by_pk(model, field_name: str, values: dict[int, object]) -> None:
    """Set `field_name` of each row whose id is a key of `values` to its value, 500 rows a statement."""
    if not values:
        return
    field, pk_field = model._meta.get_field(field_name), model._meta.pk
    quote = connection.ops.quote_name
    table, column, pk = quote(model._meta.db_table), quote(field.column), quote(pk_field.column)
    items = sorted(values.items())
    for start in range(0, len(items), ROWS_PER_STATEMENT):
        chunk = items[start:start + ROWS_PER_STATEMENT]
        ids = [row_id for row_id, _ in chunk]
        prepared = _column(field, [value for _, value in chunk])
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"UPDATE {table} SET {column} = v.value FROM UNNEST(%s::{_array_type(pk_field)}, "
                    f"%s::{_array_type(field)}) AS v(id, value) WHERE {table}.{pk} = v.id",
                    [ids, prepared],
                )
            else:
                cursor.execute(
                    f"UPDATE {table} SET {column} = CASE {pk} {' '.join(['WHEN %s THEN %s'] * len(chunk))} END "
                    f"WHERE {pk} IN ({', '.join(['%s'] * len(chunk))})",
                    [p for pair in zip(ids, prepared, strict=True) for p in pair] + ids,
                )


def insert_rows(model, field_names: Sequence[str], rows: Iterable[Sequence]) -> None:
    """INSERT `rows` (tuples of the fields' Python values, in `field_names` order), 500 rows a statement."""
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    rows = list(rows)
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        prepared = [_column(field, list(values)) for field, values in zip(fields, zip(*chunk, strict=True), strict=True)]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql" and len(chunk) > SMALL_INSERT:
                unnest = ", ".join(f"%s::{_array_type(field)}" for field in fields)
                cursor.execute(f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({unnest})", prepared)
            else:
                one = "(" + ", ".join(["%s"] * len(fields)) + ")"
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))}",
                    [value for row in zip(*prepared, strict=True) for value in row],
                )


def insert_fields(model) -> list:
    """The fields an INSERT of `model` writes: the concrete ones but the auto id and generated columns."""
    return [
        field for field in model._meta.concrete_fields
        if not field.generated and field is not model._meta.auto_field
    ]


def insert_values(instance, fields) -> list:
    """`fields`' values of a new `instance`, as the database takes them (`auto_now_add` filled in)."""
    return [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]


def insert_instance(instance) -> None:
    """INSERT the new `instance` in one statement and set what the database returns (its id, generated columns).

    The row's own checks are the caller's: no `save()`, `full_clean()` or signals run.
    """
    model = type(instance)
    if instance.pk is not None:
        raise ValueError(f"{model.__name__} is already saved.")
    fields, returning, sql = _insert_statement(model, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, insert_values(instance, fields))
        row = cursor.fetchone()
    set_returned(instance, returning, row)


@lru_cache(maxsize=None)
def _insert_statement(model, vendor: str) -> tuple[list, list, str]:
    fields = insert_fields(model)
    returning = model._meta.db_returning_fields
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"RETURNING {', '.join(quote(field.column) for field in returning)}"
    )
    return fields, returning, sql


def update_fields(instance, *names: str) -> None:
    """UPDATE `names` of `instance`'s row to the instance's values, in one statement by primary key.

    `instance.save(update_fields=names)` without `save()`, signals or the statement built anew:
    for the few fields a service keeps (an invoice's amount paid) under the row's lock.
    """
    fields, sql = _update_statement(type(instance), names, connection.vendor)
    values = [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])


@lru_cache(maxsize=None)
def _update_statement(model, names: tuple[str, ...], vendor: str) -> tuple[list, str]:
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    return fields, f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"


def set_returned(instance, fields, row) -> None:
    """Put a RETURNING row's values on the instance saved by it, as `Model.save()` leaves it."""
    table = type(instance)._meta.db_table
    for field, value in zip(fields, row, strict=True):
        col = field.get_col(table)
        for converter in connection.ops.get_db_converters(col) + field.get_db_converters(connection):
            value = converter(value, col, connection)
        setattr(instance, field.attname, value)
    instance._state.adding = False
    instance._state.db = connection.alias


KEPT_ROWS_PER_STATEMENT = 1000


def add_to_kept(model, keys: Sequence[str], amounts: Sequence[str], rows: dict[tuple, Sequence[int]]) -> None:
    """Add `rows` ({key values: amounts}) to `model`'s kept totals, one row per key.

    `INSERT … ON CONFLICT (keys) DO UPDATE SET amount = amount + excluded.amount` adds in the
    database, so two transactions adding to one row never lose each other's amounts; rows go in
    key order, so two writers take the row locks alike. One statement on PostgreSQL (an array per
    column, however many rows), 1,000 rows a statement on SQLite. Nothing for no rows.
    """
    if not rows:
        return
    fields, insert, upsert = _kept_statement(model, tuple(keys), tuple(amounts), connection.vendor)
    items = [(*key, *values) for key, values in sorted(rows.items())]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            prepared = [_column(field, list(values)) for field, values in zip(fields, zip(*items, strict=True), strict=True)]
            cursor.execute(insert, prepared)
            return
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(items), KEPT_ROWS_PER_STATEMENT):
            chunk = items[start:start + KEPT_ROWS_PER_STATEMENT]
            cursor.execute(
                f"{insert} VALUES {', '.join([one] * len(chunk))} {upsert}",
                [field.get_db_prep_save(value, connection) for row in chunk for field, value in zip(fields, row, strict=True)],
            )


@lru_cache(maxsize=None)
def _kept_statement(model, keys: tuple[str, ...], amounts: tuple[str, ...], vendor: str) -> tuple[list, str, str]:
    """`add_to_kept`'s fields and statement: on PostgreSQL the whole of it (arrays through UNNEST), on
    SQLite its INSERT and its ON CONFLICT clause, for the VALUES lists between them."""
    fields = [model._meta.get_field(name) for name in (*keys, *amounts)]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = [quote(field.column) for field in fields]
    key_columns, amount_columns = columns[:len(keys)], columns[len(keys):]
    upsert = (
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET "
        + ", ".join(f"{column} = {table}.{column} + excluded.{column}" for column in amount_columns)
    )
    insert = f"INSERT INTO {table} ({', '.join(columns)})"
    if vendor == "postgresql":
        unnest = ", ".join(f"%s::{_array_type(field)}" for field in fields)
        return fields, f"{insert} SELECT * FROM UNNEST({unnest}) {upsert}", upsert
    return fields, insert, upsert
