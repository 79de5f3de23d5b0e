"""Settings > Reminders (S7): the company's reminder schedule. Creator and Admin only (settings)."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render

from settle.companies.access import member_required
from settle.companies.models import Level
from settle.core.errors import SettleError

from ..forms import apply_error
from ..services.reminders import describe_step, schedule_for, set_reminder_schedule


class ReminderScheduleForm(forms.Form):
    enabled = forms.BooleanField(label="Send payment reminders", required=False)
    steps = forms.CharField(
        label="Schedule (days from the due date)",
        max_length=100,
        required=False,
        help_text="Comma-separated: -3 is three days before the due date, 0 the due day, 7 a week after.",
    )


@member_required(Level.ADMIN)
def reminder_settings(request):
    company = request.membership.company
    schedule = schedule_for(company=company)
    if request.method == "POST":
        form = ReminderScheduleForm(request.POST)
        if form.is_valid():
            try:
                schedule = set_reminder_schedule(
                    company=company, enabled=form.cleaned_data["enabled"], steps=form.cleaned_data["steps"]
                )
            except SettleError as exc:
                apply_error(form, exc)
            else:
                messages.success(
                    request, "Payment reminders are on." if schedule.enabled else "Payment reminders are off."
                )
                return redirect("sales:reminder_settings")
    else:
        form = ReminderScheduleForm(
            initial={"enabled": schedule.enabled, "steps": ", ".join(str(s) for s in schedule.steps)}
        )
    return render(
        request,
        "sales/reminder_settings.html",
        {"form": form, "schedule": schedule, "described": [describe_step(s) for s in schedule.steps]},
    )
