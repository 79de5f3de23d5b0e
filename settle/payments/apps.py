from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "settle.payments"
    label = "payments"
