import zoneinfo

from django.utils import timezone

from .access import current_membership


class CurrentMembershipMiddleware:
    """Sets request.membership (the user's membership in the company they are working in, or
    None) and shows times in that company's time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = current_membership(request)
        if request.membership is not None:
            timezone.activate(zoneinfo.ZoneInfo(request.membership.company.time_zone))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
