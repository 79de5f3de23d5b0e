"""Settings > Add-ons (credit card processors) and Settings > Invoice and Payments."""

from django.urls import path

from .views import settings as views

urlpatterns = [
    path("settings/add-ons/", views.addons, name="addons"),
    path("settings/add-ons/stripe/new/", views.processor_new_stripe, name="processor_new_stripe"),
    path("settings/add-ons/<int:pk>/", views.processor_edit, name="processor_edit"),
    path("settings/add-ons/<int:pk>/rotate-key/", views.processor_rotate_key, name="processor_rotate_key"),
    path("settings/add-ons/<int:pk>/disconnect/", views.processor_disconnect, name="processor_disconnect"),
    path("settings/invoice-payments/", views.invoice_payments_settings, name="invoice_payments_settings"),
]
