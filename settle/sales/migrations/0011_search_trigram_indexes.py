"""Trigram indexes for the list searches, on PostgreSQL (S1, S2).

The invoice and client lists search any part of the invoice number, the client's name and the
client's contact emails, in any case. Django compiles `icontains` on PostgreSQL to
`UPPER("col"::text) LIKE UPPER('%…%')`, which no B-tree index serves; a GIN index of the same
`UPPER(col::text)` expression with `gin_trgm_ops` (extension `pg_trgm`, in PostgreSQL's contrib)
does, for searches of three characters or more. `fastupdate = off` keeps new rows out of a
pending list that every search would read through.

The indexes are not in the models' state: on SQLite (no `pg_trgm`) this migration does nothing.
"""

from django.db import migrations

INDEXES = {
    "sales_invoice_number_trgm": ("sales_invoice", "number"),
    "sales_client_name_trgm": ("sales_client", "name"),
    "sales_client_emails_trgm": ("sales_client", "emails"),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops) WITH (fastupdate = off)',
            params=None,
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"', params=None)


class Migration(migrations.Migration):
    dependencies = [("sales", "0010_client_name_index")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
