from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "settle.sales"
    label = "sales"
