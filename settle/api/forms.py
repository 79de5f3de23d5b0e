from django import forms

from .models import KEY_LEVELS


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What will use the key, e.g. “Website shop”.")
    level = forms.ChoiceField(label="Access level", choices=KEY_LEVELS, initial="bookkeeper")


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint address", max_length=500,
        help_text="An https address of your website or tool, e.g. https://shop.example/settle-events.",
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
