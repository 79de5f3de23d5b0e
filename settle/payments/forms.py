"""Forms of the payments settings pages (P1, P6, P7). They parse; the services decide."""

from django import forms

from settle.core.errors import SettleError
from settle.core.text import plain_line

from .models import Processor

KEY_HELP = (
    "Find your Stripe Live Secret Key by logging into the Stripe Dashboard and going to "
    "Developers > API keys. Please do not use the test or publishable key."
)


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} {obj.name}"


class SettleErrorsMixin:
    def add_settle_error(self, error: SettleError) -> None:
        """Show a service's refusal on its field, or above the form."""
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)


class StripeProcessorForm(SettleErrorsMixin, forms.Form):
    """P1: Processor Name, Deposit Payments to, Stripe Live Secret Key."""

    name = forms.CharField(
        label="Processor Name",
        max_length=Processor._meta.get_field("name").max_length,
        help_text="This is the name you will see when creating invoices.",
        validators=[plain_line],
        error_messages={"required": "Give the processor a name, such as Stripe."},
    )
    deposit_account = AccountChoiceField(
        label="Deposit Payments to",
        queryset=None,
        empty_label=None,
        help_text="Where the funds are tracked in your books until Stripe pays them out.",
    )
    payout_account = AccountChoiceField(
        label="Payouts go to",
        queryset=None,
        required=False,
        empty_label=None,
        help_text="The bank account Stripe pays your balance out to. Each payout moves the money there in your books.",
    )
    secret_key = forms.CharField(
        label="Stripe Live Secret Key",
        max_length=500,
        strip=True,
        # render_value=False: the key is never sent back to the browser, not even after an error.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=KEY_HELP,
        error_messages={"required": "Enter your Stripe Live Secret Key (it starts with sk_live_)."},
    )

    def __init__(self, *args, accounts, banks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deposit_account"].queryset = accounts
        self.fields["payout_account"].queryset = banks


class ProcessorEditForm(SettleErrorsMixin, forms.Form):
    """Rename a processor or change where its payments are deposited."""

    name = forms.CharField(
        label="Processor Name", max_length=Processor._meta.get_field("name").max_length, validators=[plain_line]
    )
    deposit_account = AccountChoiceField(label="Deposit Payments to", queryset=None, empty_label=None)
    payout_account = AccountChoiceField(
        label="Payouts go to",
        queryset=None,
        required=False,
        empty_label=None,
        help_text="The bank account Stripe pays your balance out to. Each payout moves the money there in your books.",
    )

    def __init__(self, *args, accounts, banks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deposit_account"].queryset = accounts
        self.fields["payout_account"].queryset = banks


class RotateKeyForm(SettleErrorsMixin, forms.Form):
    """R5: a new secret key of the same Stripe account for a connected processor."""

    secret_key = forms.CharField(
        label="New Stripe Live Secret Key",
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=(
            "A new secret key of the same Stripe account, e.g. after rolling the key in the Stripe Dashboard "
            "(Developers > API keys). Links already sent and the payments recorded stay as they are."
        ),
        error_messages={"required": "Enter the new Stripe Live Secret Key (it starts with sk_live_)."},
    )


class ProcessorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


class DefaultProcessorForm(SettleErrorsMixin, forms.Form):
    """P6: the company's default way to accept card payments."""

    default_processor = ProcessorChoiceField(
        label="Default way to accept credit card payments",
        queryset=None,
        required=False,
        empty_label="No credit card payments",
        help_text="New invoices offer this processor unless their client has a default of its own.",
    )

    def __init__(self, *args, processors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_processor"].queryset = processors


class NotificationEmailForm(SettleErrorsMixin, forms.Form):
    """P7: Payment Notification Email."""

    notification_email = forms.EmailField(
        label="Payment Notification Email",
        required=False,
        max_length=254,
        validators=[plain_line],
        help_text=(
            "We email this address every time a customer pays, and whenever a payment runs into a problem. "
            "Leave it empty to get no emails."
        ),
    )
