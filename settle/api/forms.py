from django import forms

from .models import KEY_LEVELS


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What will use the key, e.g. “Website shop”.")
    level = forms.ChoiceField(label="Access level", choices=KEY_LEVELS, initial="bookkeeper")
