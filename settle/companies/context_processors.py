from functools import cache, partial

from .selectors import memberships_of_user


def membership(request):
    """`membership` and `company` of the current company; `my_memberships` for the switcher;
    `open_problem_count` for the navigation and the dashboard.

    The membership middleware fetched the memberships (with each company's problem count) in
    one query; requests it did not see (e.g. error pages) fall back to lazy lookups.
    """
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    my_memberships = getattr(request, "my_memberships", None)
    if my_memberships is None:
        my_memberships = (
            partial(memberships_of_user, user=user) if user is not None and user.is_authenticated else list
        )
    return {
        "membership": membership,
        "company": membership.company if membership else None,
        "my_memberships": my_memberships,
        "open_problem_count": _problem_count(membership) if membership else int,
    }


def _problem_count(membership):
    count = getattr(membership, "open_problem_count", None)
    if count is not None:
        return count
    # Lazy and counted at most once per page (the navigation and the dashboard both show it).
    return cache(partial(_open_problem_count, membership))


def _open_problem_count(membership) -> int:
    from settle.payments.selectors import open_problem_count

    return open_problem_count(company=membership.company)
