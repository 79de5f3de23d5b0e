from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "settle.ledger"
    label = "ledger"
