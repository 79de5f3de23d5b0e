"""The chart of accounts a new company starts with (L1). Data, not code."""

from .models import AccountRole as R
from .models import AccountType as T

DEFAULT_CHART = [
    # code, name, type, role
    ("1000", "Chequing Account", T.ASSET, R.BANK),
    ("1010", "Savings Account", T.ASSET, R.BANK),
    ("1050", "Cash on Hand", T.ASSET, R.CASH),
    ("1100", "Stripe Clearing", T.ASSET, R.STRIPE_CLEARING),
    ("1150", "Disputed Payments", T.ASSET, R.DISPUTED_PAYMENTS),
    ("1200", "Unpaid Accounts Receivable", T.ASSET, R.RECEIVABLE),
    ("1500", "Equipment", T.ASSET, R.NONE),
    ("2000", "Accounts Payable", T.LIABILITY, R.NONE),
    ("2100", "Sales Tax Payable", T.LIABILITY, R.SALES_TAX),
    ("2200", "Customer Credits", T.LIABILITY, R.CUSTOMER_CREDIT),
    ("3000", "Owner's Equity", T.EQUITY, R.NONE),
    ("3100", "Retained Earnings", T.EQUITY, R.NONE),
    ("4000", "Sales", T.INCOME, R.SALES),
    ("4100", "Other Income", T.INCOME, R.NONE),
    ("5000", "Cost of Goods Sold", T.EXPENSE, R.NONE),
    ("6000", "Credit Card Processing Fees", T.EXPENSE, R.CARD_FEES),
    ("6050", "Chargebacks", T.EXPENSE, R.CHARGEBACKS),
    ("6100", "Bank Charges", T.EXPENSE, R.NONE),
    ("6200", "Office Supplies", T.EXPENSE, R.NONE),
    ("6300", "Rent", T.EXPENSE, R.NONE),
]
