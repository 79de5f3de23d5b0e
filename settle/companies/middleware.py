from .access import current_membership


class CurrentMembershipMiddleware:
    """Sets request.membership: the user's membership in the company they are working in, or None."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = current_membership(request)
        return self.get_response(request)
