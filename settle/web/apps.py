from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "settle.web"
    label = "web"
