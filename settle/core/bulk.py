"""Set-based writes for the batch services, in plain SQL where the ORM's bulk forms cost more Python than SQL.

`Model.objects.bulk_update` builds one `Case(When(pk=…))` expression per row and resolves each;
`update_by_pk` writes the same UPDATE from a dict. `insert_rows` is `bulk_create` for rows that
need no model instance (no save(), no signals, ids not wanted back). Both run on PostgreSQL and
SQLite and adapt each value the way the model field does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection

ROWS_PER_STATEMENT = 500


def _prep(field, value):
    return field.get_db_prep_save(value, connection)


def update_by_pk(model, field_name: str, values: dict[int, object]) -> None:
    """`UPDATE … SET field = CASE id WHEN … THEN … END WHERE id IN (…)`, 500 rows a statement."""
    if not values:
        return
    field = model._meta.get_field(field_name)
    quote = connection.ops.quote_name
    table, column, pk = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
    items = sorted(values.items())
    for start in range(0, len(items), ROWS_PER_STATEMENT):
        chunk = items[start:start + ROWS_PER_STATEMENT]
        params: list = []
        for row_id, value in chunk:
            params += [row_id, _prep(field, value)]
        params += [row_id for row_id, _ in chunk]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {column} = CASE {pk} {' '.join(['WHEN %s THEN %s'] * len(chunk))} END "
                f"WHERE {pk} IN ({', '.join(['%s'] * len(chunk))})",
                params,
            )


def insert_rows(model, field_names: Sequence[str], rows: Iterable[Sequence]) -> None:
    """INSERT `rows` (tuples of the fields' Python values, in `field_names` order) into `model`'s table.

    PostgreSQL: one array per column through `UNNEST`, as Django's own bulk_create does there;
    SQLite: VALUES lists. 500 rows a statement either way.
    """
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    rows = list(rows)
    postgres = connection.vendor == "postgresql"
    if postgres:
        types = [field.rel_db_type(connection) if field.is_relation else field.db_type(connection) for field in fields]
        unnest = ", ".join(f"%s::{t}[]" for t in types)
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        prepared = [[_prep(field, value) for field, value in zip(fields, row, strict=True)] for row in chunk]
        with connection.cursor() as cursor:
            if postgres:
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({unnest})",
                    [list(column) for column in zip(*prepared, strict=True)],
                )
            else:
                one = "(" + ", ".join(["%s"] * len(fields)) + ")"
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))}",
                    [value for row in prepared for value in row],
                )
