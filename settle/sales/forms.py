"""HTML forms: parse and check input, then hand plain values to one service.

Services re-check everything (they are the contract); forms exist to put messages next
to the right field. `apply_error` turns a service's SettleError into a form error.
"""

import base64
import binascii
from decimal import Decimal

from django import forms
from django.forms.models import ModelChoiceIterator

from settle.core.dates import ISO, DateOrder, date_order
from settle.core.errors import SettleError
from settle.core.money import plain_number, InvalidAmount, MAX_AMOUNT, parse_amount
from settle.ledger.models import AccountRole

from . import selectors
from .models import Client, Invoice, InvoiceEmail, InvoiceLine, ManualPayment, PaymentMethod, TaxRate, Terms
from .services.invoices import MAX_QUANTITY, PAID_AT_ISSUE_REASON, USE_DEFAULT
from .validators import plain_line, plain_text

AUTO = "auto"


def apply_error(form: forms.BaseForm, error: SettleError) -> None:
    """Show a service's refusal next to its field when the form has that field, else on top."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class DateInput(forms.DateInput):
    """A date typed in the company's order (settle.core.dates), shown as its placeholder."""

    input_type = "text"

    def __init__(self, order: DateOrder = ISO, attrs=None):
        super().__init__(
            attrs={"placeholder": order.placeholder, "autocomplete": "off", "maxlength": "11", **(attrs or {})},
            format=order.strftime,
        )


def localize_dates(form: forms.BaseForm, company) -> None:
    """The form's dates in the company's order; ISO dates and "3 Dec 2026" are accepted too."""
    order = date_order(company.time_zone)
    for field in form.fields.values():
        if isinstance(field, forms.DateField):
            field.widget = DateInput(order)
            field.input_formats = [order.strftime, ISO.strftime, "%d %b %Y"]
            field.help_text = f"{order.placeholder}. {field.help_text}" if field.help_text else order.placeholder


class TaxRateSelect(forms.Select):
    """A tax rate select whose options carry their rate (data-rate), for the form's running totals."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-rate"] = str(instance.rate)
        return option


class AmountField(forms.CharField):
    """A money amount in the company's currency, parsed exactly (never a float)."""

    def __init__(self, *, currency: str, allow_zero: bool = False, **kwargs):
        self.currency = currency
        self.allow_zero = allow_zero
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off", "maxlength": "20"})

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        if len(value) > 20:
            raise forms.ValidationError("That amount is too large.")
        try:
            amount = parse_amount(value, self.currency)
        except InvalidAmount as exc:
            raise forms.ValidationError(str(exc)) from None
        if amount < 0 or (amount == 0 and not self.allow_zero):
            raise forms.ValidationError("The amount must be more than zero.")
        return amount


def _processor_choices(company, *, auto: bool) -> list[tuple[str, str]]:
    choices = [(AUTO, "Client's default (else the company default)")] if auto else []
    choices.append(("", "None"))
    # Only the id and name: the rows carry an encrypted key that need not be decrypted here.
    choices += [(str(pk), name) for pk, name in selectors.connected_processors(company=company).values_list("pk", "name")]
    return choices


def _processor_from_choice(company, value: str):
    if value == AUTO:
        return USE_DEFAULT
    if not value:
        return None
    return selectors.connected_processors(company=company).filter(pk=value).first()


class ClientForm(forms.Form):
    name = forms.CharField(max_length=Client._meta.get_field("name").max_length, validators=[plain_line])
    emails = forms.CharField(
        label="Contact email(s)",
        max_length=Client._meta.get_field("emails").max_length,
        required=False,
        help_text="Separate several addresses with commas; the first is the default recipient.",
    )
    address = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=Client._meta.get_field("address").max_length,
        required=False,
        validators=[plain_text],
    )
    default_processor = forms.ChoiceField(
        label="Credit Card Processor",
        required=False,
        help_text="Used on new invoices for this client (Allow credit card payment via).",
    )
    reminders_enabled = forms.BooleanField(
        label="Send payment reminders",
        required=False,
        initial=True,
        help_text="Unpaid invoices of this client get the reminders of Settings > Reminders.",
    )

    NO_CARD_PAYMENTS = "none"

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self._processors = list(selectors.connected_processors(company=company))
        default = selectors.company_default_processor(company=company)
        self.fields["default_processor"].choices = [
            ("", f"The company default ({default.name})" if default else "The company default (no card payments)"),
            (self.NO_CARD_PAYMENTS, "No card payments"),
            *[(str(p.pk), p.name) for p in self._processors],
        ]

    def clean_default_processor(self):
        """S1, S4: the company default (None), no card payments (NO_CARD_PAYMENTS), or a named processor."""
        value = self.cleaned_data["default_processor"]
        if value in ("", self.NO_CARD_PAYMENTS):
            return value or None
        return next(p for p in self._processors if str(p.pk) == value)

    def clean_emails(self):
        from .services.clients import normalize_emails

        try:
            return normalize_emails(self.cleaned_data["emails"])
        except SettleError as exc:
            raise forms.ValidationError(exc.message) from None


class TaxRateForm(forms.Form):
    name = forms.CharField(max_length=TaxRate._meta.get_field("name").max_length, validators=[plain_line])
    rate = forms.DecimalField(
        label="Rate (%)", min_value=Decimal("0"), max_value=Decimal("100"), max_digits=6, decimal_places=3
    )


class InvoiceForm(forms.Form):
    client = forms.ModelChoiceField(queryset=None, empty_label="Choose a client…")
    issue_date = forms.DateField(widget=DateInput)
    terms = forms.ChoiceField(choices=Terms.choices, initial=Terms.NET_30)
    due_date = forms.DateField(
        widget=DateInput, required=False, help_text="Leave empty to compute it from the terms."
    )
    receivable_account = forms.ModelChoiceField(
        label="Receivable account",
        queryset=None,
        empty_label=None,
        help_text="A bank or cash account records the invoice as paid at issue.",
    )
    card_processor = forms.ChoiceField(label="Allow credit card payment via", required=False)
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=Invoice._meta.get_field("notes").max_length,
        validators=[plain_text],
    )

    def __init__(self, *args, company, auto_processor: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company
        localize_dates(self, company)
        self.fields["client"].queryset = selectors.clients(company=company)
        accounts = selectors.receivable_accounts(company=company)
        self.fields["receivable_account"].queryset = accounts
        self.fields["card_processor"].choices = _processor_choices(company, auto=auto_processor)
        if "receivable_account" not in self.initial:
            default = accounts.filter(role=AccountRole.RECEIVABLE).first()
            self.initial["receivable_account"] = default.pk if default else None
        self.paid_at_issue_accounts = [a.pk for a in accounts if a.is_bank_or_cash]

    @property
    def paid_at_issue_reason(self) -> str:
        return PAID_AT_ISSUE_REASON

    def clean(self):
        data = super().clean()
        account = data.get("receivable_account")
        if account is not None and account.is_bank_or_cash:
            # S3: not offered for a paid-at-issue invoice.
            data["card_processor"] = None
        elif "card_processor" in data:
            value = data["card_processor"]
            processor = _processor_from_choice(self.company, value)
            if value not in ("", AUTO) and processor is None:
                self.add_error("card_processor", "Choose one of your connected credit card processors, or None.")
            data["card_processor"] = processor
        return data


class LineForm(forms.Form):
    """One invoice line. A row left entirely blank is ignored."""

    description = forms.CharField(
        required=False, max_length=InvoiceLine._meta.get_field("description").max_length, validators=[plain_line]
    )
    quantity = forms.DecimalField(
        required=False, max_digits=12, decimal_places=4, widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6})
    )
    unit_price = forms.DecimalField(
        required=False, max_digits=14, decimal_places=4, widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 9})
    )
    tax_rate = forms.ModelChoiceField(queryset=None, required=False, empty_label="No tax", widget=TaxRateSelect)

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tax_rate"].queryset = selectors.tax_rates(company=company)

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) not in (None, "") for name in ("description", "quantity", "unit_price"))

    def clean(self):
        data = super().clean()
        if self.errors or self.is_blank:
            return data
        if not data.get("description"):
            self.add_error("description", "Enter a description.")
        quantity = data.get("quantity")
        if quantity is None:
            self.add_error("quantity", "Enter the quantity.")
        elif quantity <= 0:
            self.add_error("quantity", "The quantity must be more than zero.")
        elif quantity > MAX_QUANTITY:
            self.add_error("quantity", "That quantity is too large.")
        price = data.get("unit_price")
        if price is None:
            self.add_error("unit_price", "Enter the unit price.")
        elif price < 0:
            self.add_error("unit_price", "The unit price cannot be negative.")
        elif price > MAX_AMOUNT:
            self.add_error("unit_price", "That unit price is too large.")
        return data


class BaseLineFormSet(forms.BaseFormSet):
    def __init__(self, *args, company, **kwargs):
        self.company = company
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "company": self.company}

    @property
    def empty_form(self):
        form = self.form(
            auto_id=self.auto_id, prefix=self.add_prefix("__prefix__"), empty_permitted=True,
            use_required_attribute=False, company=self.company, renderer=self.renderer,
        )
        self.add_fields(form, None)
        return form

    def clean(self):
        if any(self.errors):
            return
        if not self.line_inputs():
            raise forms.ValidationError("Add at least one line with a description, quantity and unit price.")

    def line_inputs(self):
        from .services.invoices import LineInput

        return [
            LineInput(
                description=f.cleaned_data["description"],
                quantity=f.cleaned_data["quantity"],
                unit_price=f.cleaned_data["unit_price"],
                tax_rate=f.cleaned_data.get("tax_rate"),
            )
            for f in self.forms
            if hasattr(f, "cleaned_data") and not f.is_blank
        ]


def line_formset(data=None, *, company, invoice: Invoice | None = None):
    """Five blank rows for a new invoice; an invoice's lines plus two blank rows for an edit."""
    initial = None
    extra = 5
    if invoice is not None:
        initial = [
            {
                "description": line.description,
                "quantity": plain_number(line.quantity),
                "unit_price": plain_number(line.unit_price),
                "tax_rate": line.tax_rate_id,
            }
            for line in invoice.lines.all()
        ]
        extra = 2
    formset_class = forms.formset_factory(
        LineForm, formset=BaseLineFormSet, extra=extra, max_num=50, absolute_max=50, validate_max=True
    )
    return formset_class(data, initial=initial, prefix="lines", company=company)


class ProcessorForm(forms.Form):
    """S4: change "Allow credit card payment via" on an issued invoice."""

    card_processor = forms.ChoiceField(label="Allow credit card payment via", required=False)

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.company = company
        self.fields["card_processor"].choices = _processor_choices(company, auto=False)

    def clean_card_processor(self):
        value = self.cleaned_data["card_processor"]
        processor = _processor_from_choice(self.company, value)
        if value and processor is None:
            raise forms.ValidationError("Choose one of your connected credit card processors, or None.")
        return processor


class _OnceReadChoices(ModelChoiceIterator):
    """Choices read from the field's queryset once per form: rendering the select (and checking
    whether its first choice is empty) reuses the rows instead of querying again."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class OnceReadModelChoiceField(forms.ModelChoiceField):
    iterator = _OnceReadChoices


class ManualPaymentForm(forms.Form):
    date = forms.DateField(widget=DateInput)
    amount = AmountField(currency="USD")
    method = forms.ChoiceField(choices=PaymentMethod.choices, initial=PaymentMethod.CHEQUE)
    reference = forms.CharField(
        required=False, max_length=ManualPayment._meta.get_field("reference").max_length, validators=[plain_line],
        help_text="Cheque number, transfer reference…",
    )
    deposit_account = OnceReadModelChoiceField(label="Deposit to", queryset=None, empty_label=None)

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        localize_dates(self, company)
        self.fields["amount"].currency = company.currency
        self.fields["deposit_account"].queryset = selectors.bank_and_cash_accounts(company=company)


class InvoiceEmailForm(forms.Form):
    to = forms.CharField(
        label="To", max_length=InvoiceEmail._meta.get_field("to").max_length,
        help_text="Separate several addresses with commas.",
    )
    subject = forms.CharField(max_length=InvoiceEmail._meta.get_field("subject").max_length, validators=[plain_line])
    body = forms.CharField(
        label="Message", widget=forms.Textarea(attrs={"rows": 12}),
        max_length=InvoiceEmail._meta.get_field("body").max_length, validators=[plain_text],
    )
    attach_pdf = forms.BooleanField(label="Attach the invoice as a PDF", required=False, initial=True)

    def clean_to(self):
        from .services.invoice_emails import parse_recipients

        try:
            return parse_recipients(self.cleaned_data["to"])
        except SettleError as exc:
            raise forms.ValidationError(exc.message) from None


class ClientImportForm(forms.Form):
    """Step one of the client import: the CSV file."""

    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV with the column names in the first row.",
        error_messages={"required": "Choose a CSV file of clients.", "empty": "The file is empty."},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self) -> bytes:
        """The file's bytes; a file over the import limit is refused before it is read."""
        from .services.client_imports import MAX_BYTES

        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                f"The file is too big ({upload.size / 1_000_000:.1f} MB). Import at most "
                f"{MAX_BYTES // 1_000_000} MB at a time: split the file."
            )
        return upload.read(MAX_BYTES + 1)


class ClientImportConfirmForm(forms.Form):
    """Step two: the previewed file, carried back in the page, and the user's choice.

    The content is re-checked in full by the import service, so the page carrying it
    needs no trust.
    """

    content = forms.CharField(widget=forms.HiddenInput, strip=False)
    choice = forms.ChoiceField(choices=[("all", "Import all rows"), ("valid", "Import the valid rows")])

    @staticmethod
    def encode(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    def clean_content(self) -> bytes:
        try:
            return base64.b64decode(self.cleaned_data["content"], validate=True)
        except (binascii.Error, ValueError):
            raise forms.ValidationError("The preview could not be read back. Upload the file again.") from None


# -- credit notes and customer credit (S9) ----------------------------------------------------

REQUEST_KEY_MAX = 64


class _OnceForm(forms.Form):
    """A form that carries a one-time key, so a double submit books once (the services check it)."""

    request_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=REQUEST_KEY_MAX)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            import secrets

            self.initial.setdefault("request_key", secrets.token_urlsafe(24))


class CreditNoteForm(_OnceForm):
    date = forms.DateField(widget=DateInput)
    amount = AmountField(currency="USD", help_text="Tax included; split between income and tax as on the invoice.")
    reason = forms.CharField(max_length=500, validators=[plain_line],
                             help_text="Shown on the credit note, e.g. “Refund of the deposit, not to be collected again”.")

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        localize_dates(self, company)
        self.fields["amount"].currency = company.currency


class ApplyCreditForm(_OnceForm):
    from_invoice = forms.ModelChoiceField(label="Credit from", queryset=None, empty_label=None)
    to_invoice = forms.ModelChoiceField(label="Apply to invoice", queryset=None, empty_label=None)
    amount = AmountField(currency="USD")
    date = forms.DateField(widget=DateInput)

    def __init__(self, *args, company, credit, **kwargs):
        super().__init__(*args, **kwargs)
        localize_dates(self, company)
        self.fields["amount"].currency = company.currency
        self.fields["from_invoice"].queryset = Invoice.objects.filter(pk__in=[s.invoice.pk for s in credit.sources])
        self.fields["from_invoice"].label_from_instance = _credit_label(credit, company)
        self.fields["to_invoice"].queryset = Invoice.objects.filter(pk__in=[i.pk for i in credit.open_invoices])
        self.fields["to_invoice"].label_from_instance = _due_label(company)


class RefundCreditForm(_OnceForm):
    from_invoice = forms.ModelChoiceField(label="Credit from", queryset=None, empty_label=None)
    amount = AmountField(currency="USD")
    date = forms.DateField(widget=DateInput)
    method = forms.ChoiceField(choices=PaymentMethod.choices, initial=PaymentMethod.TRANSFER)
    paid_from = forms.ModelChoiceField(label="Paid from", queryset=None, empty_label=None)
    reference = forms.CharField(required=False, max_length=100, validators=[plain_line],
                                help_text="Cheque number, transfer reference…")

    def __init__(self, *args, company, credit, **kwargs):
        super().__init__(*args, **kwargs)
        localize_dates(self, company)
        self.fields["amount"].currency = company.currency
        self.fields["from_invoice"].queryset = Invoice.objects.filter(pk__in=[s.invoice.pk for s in credit.sources])
        self.fields["from_invoice"].label_from_instance = _credit_label(credit, company)
        self.fields["paid_from"].queryset = selectors.bank_and_cash_accounts(company=company)


class CardCreditRefundForm(forms.Form):
    """Refund credit to the card that paid it (the card refund service, R6)."""

    invoice = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    card_payment = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    state = forms.CharField(widget=forms.HiddenInput, max_length=40)
    amount = AmountField(currency="USD")

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].currency = company.currency


def _credit_label(credit, company):
    from settle.core.money import format_money

    amounts = {s.invoice.pk: s.credit for s in credit.sources}
    return lambda invoice: f"{invoice.number} ({format_money(amounts.get(invoice.pk, 0), company.currency)} credit)"


def _due_label(company):
    from settle.core.money import format_money

    return lambda invoice: f"{invoice.number} ({format_money(invoice.balance_due, company.currency)} due)"
