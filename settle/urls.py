from django.conf import settings
from django.urls import include, path

from settle.payments.views.webhooks import stripe_webhook

urlpatterns = [
    # Processors' webhooks (public; the signature authorizes). First: the most frequent machine
    # request is resolved without trying every page's pattern.
    path("payments/webhooks/<int:processor_id>/", stripe_webhook, name="stripe_webhook"),
    path("", include("settle.web.urls")),
    path("", include("settle.companies.urls")),
    path("ledger/", include("settle.ledger.urls")),
    path("", include("settle.sales.urls")),
    path("", include("settle.payments.urls")),
    path("", include("settle.notifications.urls")),
    path("", include("settle.api.urls_settings")),
    path("api/v1/", include("settle.api.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
