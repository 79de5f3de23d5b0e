from django.shortcuts import render

from settle.companies.access import member_required
from settle.companies.models import Level
from settle.notifications.selectors import failed_emails

from . import selectors
from .charts import bar_chart


@member_required()
def dashboard(request):
    company = request.membership.company
    figures = selectors.dashboard(company=company)
    # Admins hear about email that could not be sent (E2), with the reason.
    failed = failed_emails(company=company) if request.membership.at_least(Level.ADMIN) else []
    onboarding = selectors.onboarding(company=company)
    return render(
        request,
        "web/dashboard.html",
        {
            "figures": figures,
            "aging_chart": bar_chart(figures.aging_buckets),
            "failed_emails": failed,
            "onboarding": None if onboarding.done else onboarding,
            "onboarding_steps": [(step, request.membership.at_least(step.for_level)) for step in onboarding.steps],
        },
    )
