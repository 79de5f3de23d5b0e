from django.conf import settings


def outbox(request):
    """`outbox_enabled`: the development outbox is on (the navigation links to it)."""
    return {"outbox_enabled": settings.OUTBOX_ENABLED}
