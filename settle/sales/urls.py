from django.urls import path

from .views import clients, credits, invoices, receipts, reminders, tax_rates

app_name = "sales"

urlpatterns = [
    path("clients/", clients.client_list, name="client_list"),
    path("clients/export.csv", clients.client_export, name="client_export"),
    path("clients/import/", clients.client_import, name="client_import"),
    path("clients/new/", clients.client_new, name="client_new"),
    path("clients/<int:pk>/", clients.client_detail, name="client_detail"),
    path("clients/<int:pk>/edit/", clients.client_edit, name="client_edit"),
    path("clients/<int:pk>/credit/apply/", credits.credit_apply, name="credit_apply"),
    path("clients/<int:pk>/credit/refund/", credits.credit_refund, name="credit_refund"),
    path("clients/<int:pk>/credit/refund-card/", credits.credit_refund_card, name="credit_refund_card"),
    path("invoices/", invoices.invoice_list, name="invoice_list"),
    path("invoices/export.csv", invoices.invoice_export, name="invoice_export"),
    path("invoices/new/", invoices.invoice_new, name="invoice_new"),
    path("invoices/<int:pk>/", invoices.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/edit/", invoices.invoice_edit, name="invoice_edit"),
    path("invoices/<int:pk>/processor/", invoices.invoice_processor, name="invoice_processor"),
    path("invoices/<int:pk>/payments/new/", invoices.payment_new, name="payment_new"),
    path("invoices/<int:pk>/payments/<int:payment_pk>/reverse/", invoices.payment_reverse, name="payment_reverse"),
    path("invoices/<int:pk>/email/", invoices.invoice_email, name="invoice_email"),
    path("invoices/<int:pk>/print/", invoices.invoice_print, name="invoice_print"),
    path("invoices/<int:pk>/pdf/", invoices.invoice_pdf_download, name="invoice_pdf"),
    path("invoices/<int:pk>/credit-notes/new/", credits.credit_note_new, name="credit_note_new"),
    path("invoices/<int:pk>/credit-notes/<int:note_pk>/", credits.credit_note_detail, name="credit_note_detail"),
    path("invoices/<int:pk>/void/", invoices.invoice_void, name="invoice_void"),
    path("settings/reminders/", reminders.reminder_settings, name="reminder_settings"),
    path("receipts/<str:public_id>/", receipts.receipt_page, name="receipt"),
    path("settings/tax-rates/", tax_rates.tax_rate_list, name="tax_rate_list"),
    path("settings/tax-rates/<int:pk>/", tax_rates.tax_rate_edit, name="tax_rate_edit"),
    path("settings/tax-rates/<int:pk>/delete/", tax_rates.tax_rate_delete, name="tax_rate_delete"),
]
