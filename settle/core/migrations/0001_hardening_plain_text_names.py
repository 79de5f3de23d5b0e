"""Clean stored names that break the plain-text rule (N4): no markup, no control characters.

Names written before the rule covered control characters (a client called
"Evil\\r\\nBcc: …") would break every email whose headers carry them. Each changed row is
logged with its table, id and the old and new value (repr, so the control characters show).
Names that must be unique per company get " (2)", " (3)" … when the cleaned name is taken.
"""

import logging

from django.db import migrations

from settle.core.text import clean_line, plain_text_error

log = logging.getLogger("settle.migrations")

# (app label, model, field, unique per company, fallback when nothing is left)
NAME_FIELDS = [
    ("companies", "Company", "name", False, "Unnamed company"),
    ("companies", "User", "full_name", False, ""),
    ("sales", "Client", "name", True, "Unnamed client"),
    ("sales", "TaxRate", "name", True, "Unnamed tax rate"),
    ("payments", "Processor", "name", False, "Stripe"),
]


def _free_name(model, row, field: str, name: str, max_length: int) -> str:
    candidate, n = name, 1
    while model.objects.filter(company_id=row.company_id, **{field: candidate}).exclude(pk=row.pk).exists():
        n += 1
        suffix = f" ({n})"
        candidate = name[: max_length - len(suffix)] + suffix
    return candidate


def clean_names(apps, schema_editor):
    for app_label, model_name, field, unique, fallback in NAME_FIELDS:
        model = apps.get_model(app_label, model_name)
        max_length = model._meta.get_field(field).max_length
        for row in model.objects.only("pk", field, *(["company_id"] if unique else [])).iterator():
            old = getattr(row, field) or ""
            if plain_text_error(old) is None:
                continue
            new = (clean_line(old) or fallback)[:max_length]
            if unique:
                new = _free_name(model, row, field, new, max_length)
            model.objects.filter(pk=row.pk).update(**{field: new})
            log.warning("Cleaned %s.%s %s %s: %r -> %r", app_label, model_name, row.pk, field, old, new)


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0001_initial"),
        ("sales", "0002_invoice_email_outgoing_set_after_create"),
        ("payments", "0002_initial"),
    ]

    operations = [migrations.RunPython(clean_names, migrations.RunPython.noop)]
