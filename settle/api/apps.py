from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "settle.api"
    label = "api"
    verbose_name = "Public API"
