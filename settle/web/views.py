from django.shortcuts import render

from settle.companies.access import member_required


@member_required()
def dashboard(request):
    return render(request, "web/dashboard.html", {})
