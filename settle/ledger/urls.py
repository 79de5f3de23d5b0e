from django.urls import path

from . import views

app_name = "ledger"

urlpatterns = [
    path("", views.accounts, name="accounts"),
    path("accounts/new/", views.account_create, name="account_create"),
    path("accounts/<int:pk>/", views.account_register, name="register"),
    path("trial-balance/", views.trial_balance, name="trial_balance"),
    path("aging/", views.receivables_aging, name="aging"),
    path("profit-and-loss/", views.profit_and_loss, name="profit_and_loss"),
    path("balance-sheet/", views.balance_sheet, name="balance_sheet"),
    path("general-ledger/", views.general_ledger, name="general_ledger"),
    path("journal/", views.journal, name="journal"),
    path("journal/new/", views.entry_create, name="entry_create"),
    path("journal/<int:pk>/", views.entry_detail, name="entry"),
    path("journal/<int:pk>/reverse/", views.entry_reverse, name="entry_reverse"),
]
