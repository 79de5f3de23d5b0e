"""Forms of the Accounts & Reports pages. They parse input; the services decide."""

import datetime as dt
from decimal import Decimal

from django import forms

from settle.core.money import InvalidAmount, parse_amount

from .models import Account, AccountRole, AccountType

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MAX_LINES = 30


class AsOfForm(forms.Form):
    as_of = forms.DateField(label="As of", widget=DATE_WIDGET)


class DateRangeForm(forms.Form):
    start = forms.DateField(label="From", widget=DATE_WIDGET)
    end = forms.DateField(label="To", widget=DATE_WIDGET)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data


class AccountForm(forms.Form):
    code = forms.CharField(max_length=10)
    name = forms.CharField(max_length=100)
    type = forms.ChoiceField(choices=AccountType.choices)
    role = forms.ChoiceField(
        choices=AccountRole.choices,
        required=False,
        help_text="What Settle uses the account for, if anything (e.g. Bank for deposit accounts).",
    )


class ReverseForm(forms.Form):
    date = forms.DateField(label="Reversal date", widget=DATE_WIDGET)
    memo = forms.CharField(max_length=255, required=False)


class EntryForm(forms.Form):
    date = forms.DateField(widget=DATE_WIDGET)
    memo = forms.CharField(max_length=255, required=False)


class EntryLineForm(forms.Form):
    """One line of a manual entry. Amounts are parsed exactly; whether they make a valid entry is the service's call."""

    account = forms.ModelChoiceField(queryset=Account.objects.none(), required=False)
    description = forms.CharField(max_length=255, required=False)
    debit = forms.CharField(required=False, max_length=32)
    credit = forms.CharField(required=False, max_length=32)

    def __init__(self, *args, company, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = company.currency
        self.fields["account"].queryset = Account.objects.filter(company=company, is_active=True).order_by("code")
        for name in ("debit", "credit"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "class": "num"})

    def _amount(self, name) -> Decimal:
        raw = self.cleaned_data.get(name, "")
        if not raw.strip():
            return Decimal("0")
        try:
            return parse_amount(raw, self.currency)
        except InvalidAmount as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_debit(self):
        return self._amount("debit")

    def clean_credit(self):
        return self._amount("credit")

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not data.get("account") and not data.get("description") and not data.get("debit") and not data.get("credit")

    def clean(self):
        data = super().clean()
        if not data.get("account") and (data.get("debit") or data.get("credit")):
            self.add_error("account", "Choose an account for this line.")
        return data


class BaseEntryLineFormSet(forms.BaseFormSet):
    def filled_forms(self):
        return [f for f in self.forms if not f.is_blank]


def entry_line_formset(*, company, data=None, lines: int = 4):
    """The lines of a manual entry: `lines` empty rows on GET; as many as were posted on POST."""
    formset_class = forms.formset_factory(
        EntryLineForm,
        formset=BaseEntryLineFormSet,
        extra=max(2, min(lines, MAX_LINES)),
        max_num=MAX_LINES,
        absolute_max=MAX_LINES,
        validate_max=True,
    )
    return formset_class(data, prefix="lines", form_kwargs={"company": company})


def default_dates(today: dt.date) -> tuple[dt.date, dt.date]:
    """The register's default range: the start of the year through today."""
    return today.replace(month=1, day=1), today
