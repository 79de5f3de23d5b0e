"""`manage.py load_demo`: create the demo company and its books; running it again changes nothing."""

from django.core.management.base import BaseCommand

from settle.web.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Create the demo user and Maple Bakery's books (idempotent)."

    def handle(self, *args, **options):
        demo = load_demo()
        self.stdout.write(f"Demo company: {demo.company.name}")
        self.stdout.write(f"Demo login:   {DEMO_EMAIL} / {DEMO_PASSWORD}")
        self.stdout.write(f"Demo API key: {demo.api_key} (Admin)")
