from django.urls import path

from . import views

urlpatterns = [
    path("settings/api-keys/", views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("settings/webhooks/", views.webhook_endpoints, name="webhook_endpoints"),
    path("settings/webhooks/<int:endpoint_id>/remove/", views.webhook_endpoint_remove, name="webhook_endpoint_remove"),
]
