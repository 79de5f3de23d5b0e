"""Re-encrypt every stored secret with the newest encryption key.

Rotating: put the new key first in ENCRYPTION_KEY (comma-separated, newest first), keep
the old one after it, run this command, then drop the old key.
"""

from django.core.management.base import BaseCommand

from settle.api.webhooks import rotate_endpoint_secrets
from settle.payments.services.connections import rotate_secrets


class Command(BaseCommand):
    help = (
        "Re-encrypt every processor secret key and webhook signing secret, and the signing secrets of the "
        "webhook endpoints of Settings > Webhooks, with the first ENCRYPTION_KEY."
    )

    def handle(self, *args, **options):
        counts = rotate_secrets()
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {counts['secret_key']} secret keys and {counts['webhook_secret']} webhook signing "
                "secrets with the first ENCRYPTION_KEY."
            )
        )
        endpoints = rotate_endpoint_secrets()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {endpoints} webhook endpoint signing secrets."))
