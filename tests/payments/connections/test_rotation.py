"""`manage.py rotate_encryption_key`: secrets re-encrypted with the newest key (P2: stored encrypted)."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection

from settle.payments.models import Processor

pytestmark = pytest.mark.django_db


def raw(processor_id: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_key, webhook_secret FROM payments_processor WHERE id = %s", [processor_id])
        return cursor.fetchone()


def test_rotation_reencrypts_every_secret_with_the_first_key(company, creator, settings, emulator, stripe_key, stripe_clearing):  # P2 P3
    from settle.payments.services.connections import connect_stripe_processor

    old_key = settings.ENCRYPTION_KEYS[0]
    settings.PUBLIC_URL = "https://books.example.com"
    processor = connect_stripe_processor(
        company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key, created_by=creator
    )
    no_webhooks = connect_stripe_processor(
        company=company, name="Second", deposit_account=stripe_clearing, secret_key=emulator.add_key(),
        created_by=creator, public_url="",
    )
    webhook_secret = str(processor.webhook_secret)
    before = raw(processor.pk)
    assert Fernet(old_key.encode()).decrypt(before[0].encode()).decode() == stripe_key

    new_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "Re-encrypted 2 secret keys and 1 webhook signing secrets" in out.getvalue()

    after = raw(processor.pk)
    assert after[0] != before[0] and after[1] != before[1]
    assert Fernet(new_key.encode()).decrypt(after[0].encode()).decode() == stripe_key
    assert Fernet(new_key.encode()).decrypt(after[1].encode()).decode() == webhook_secret
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(after[0].encode())
    assert raw(no_webhooks.pk)[1] == ""

    # The old key can now be dropped: the app still reads every secret.
    settings.ENCRYPTION_KEYS = [new_key]
    reloaded = Processor.objects.get(pk=processor.pk)
    assert reloaded.secret_key == stripe_key and reloaded.webhook_secret == webhook_secret
    assert Processor.objects.get(pk=no_webhooks.pk).secret_key.startswith("sk_live_")
