from django.urls import include, path

urlpatterns = [
    path("", include("settle.payments.urls_settings")),
    path("", include("settle.payments.urls_pay")),
]
