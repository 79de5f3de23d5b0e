from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "settle.notifications"
    label = "notifications"
