"""Set-based writes for the batch services, in plain SQL where the ORM's bulk forms cost more Python than SQL.

`Model.objects.bulk_update` builds one `Case(When(pk=…))` expression per row and resolves each;
`update_by_pk` writes the same UPDATE from a dict. `insert_rows` is `bulk_create` for rows that
need no model instance (no save(), no signals, ids not wanted back). Both run on PostgreSQL
(one array per column, through `UNNEST`, as Django's own bulk_create does there) and SQLite
(VALUES lists), and adapt each value as the model field does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models

ROWS_PER_STATEMENT = 500

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
            if connection.vendor == "postgresql":
                unnest = ", ".join(f"%s::{_array_type(field)}" for field in fields)
                cursor.execute(f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({unnest})", prepared)
            else:
                one = "(" + ", ".join(["%s"] * len(fields)) + ")"
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))}",
                    [value for row in zip(*prepared, strict=True) for value in row],
                )
