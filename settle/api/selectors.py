"""Reads for API keys and idempotent answers."""

from django.db.models import QuerySet

from .models import ApiKey, IdempotentRequest


def api_keys(*, company) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(company=company).select_related("created_by").order_by("-created_at", "-pk")


def idempotent_answer(*, api_key: ApiKey, key: str, for_update: bool = False) -> IdempotentRequest | None:
    queryset = IdempotentRequest.objects.filter(api_key=api_key, key=key)
    if for_update:
        queryset = queryset.select_for_update()
    return queryset.first()


def webhook_endpoints(*, company):
    from .models import WebhookEndpoint

    return WebhookEndpoint.objects.filter(company=company, removed_at__isnull=True).select_related("created_by")


def recent_webhook_deliveries(*, company, limit: int = 20):
    from .models import WebhookDelivery

    return (
        WebhookDelivery.objects.filter(company=company).select_related("event", "endpoint").order_by("-pk")[:limit]
    )
