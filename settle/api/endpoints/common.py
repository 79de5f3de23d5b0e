"""What every endpoint module shares: the error responses it documents, and the caller's company."""

from settle.companies.models import Level  # noqa: F401  (re-exported for the endpoint modules)

from ..errors import Problem

READ_ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 422: Problem, 429: Problem}
WRITE_ERRORS = {**READ_ERRORS, 409: Problem}


def company_of(request):
    return request.membership.company
