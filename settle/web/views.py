from django.shortcuts import render

from settle.companies.access import member_required

from . import selectors
from .charts import bar_chart


@member_required()
def dashboard(request):
    company = request.membership.company
    figures = selectors.dashboard(company=company)
    onboarding = selectors.onboarding(company=company)
    return render(
        request,
        "web/dashboard.html",
        {
            "figures": figures,
            "aging_chart": bar_chart(figures.aging_buckets),
            "onboarding": None if onboarding.done else onboarding,
            "onboarding_steps": [(step, request.membership.at_least(step.for_level)) for step in onboarding.steps],
        },
    )
