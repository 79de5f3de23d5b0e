from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "settle.core"
    label = "core"

    def ready(self):
        from . import checks  # noqa: F401  (registers the start-up checks)
