from django.urls import path

from .views import card_payments, pay, payouts, problems

urlpatterns = [
    # The customer's pages (public; the token authorizes).
    path("pay/<str:token>/", pay.pay_page, name="pay_page"),
    path("pay/<str:token>/details/", pay.pay_details, name="pay_details"),
    path("pay/<str:token>/complete/", pay.pay_complete, name="pay_complete"),
    path("pay/<str:token>/receipt/<int:payment_id>/", pay.pay_receipt, name="pay_receipt"),
    # Processors' webhooks: first in settle/urls.py.
    # Books hit before R5: reverse a duplicate booking from the invoice page.
    path(
        "invoices/<int:invoice_id>/card-payments/<int:payment_id>/reverse-duplicate/",
        card_payments.reverse_duplicate,
        name="reverse_duplicate_booking",
    ),
    # Refunding a card payment from the invoice page (R6).
    path("invoices/<int:invoice_id>/card-payments/<int:payment_id>/refund/", card_payments.refund, name="refund_card_payment"),
    # Re-invoicing a lost dispute from the invoice page (R7).
    path("invoices/<int:invoice_id>/disputes/<int:dispute_id>/reinvoice/", card_payments.reinvoice_dispute,
         name="reinvoice_dispute"),
    # Problems and payments to record (R3, R4).
    path("payments/problems/", problems.problem_list, name="payment_problems"),
    path("payments/problems/record/<int:payment_id>/", problems.record_payment, name="record_card_payment"),
    path("payments/problems/record-refund/<int:refund_id>/", problems.record_refund, name="record_refund"),
    path("payments/problems/record-dispute/<int:movement_id>/", problems.record_dispute_movement,
         name="record_dispute_movement"),
    path("payments/problems/record-payout/<int:payout_id>/", problems.record_payout, name="record_payout"),
    # Payouts and the clearing reconciliation (R8).
    path("payouts/", payouts.payouts_index, name="payouts"),
    path("payouts/<int:pk>/", payouts.processor_payouts, name="processor_payouts"),
    path("payouts/<int:pk>/clearing/", payouts.clearing_report, name="clearing_report"),
    path("payouts/<int:pk>/<str:payout_id>/", payouts.payout_detail, name="payout_detail"),
    path("payments/problems/<int:problem_id>/resolve/", problems.dismiss_problem, name="resolve_payment_problem"),
]
