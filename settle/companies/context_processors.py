from functools import cache, partial

from .selectors import memberships_of_user


def membership(request):
    """`membership` and `company` of the current company; `my_memberships` (lazy) for the switcher."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    my_memberships = partial(memberships_of_user, user=user) if user is not None and user.is_authenticated else list
    return {
        "membership": membership,
        "company": membership.company if membership else None,
        "my_memberships": my_memberships,
        # Lazy and counted at most once per page (the navigation and the dashboard both show it).
        "open_problem_count": cache(partial(_open_problem_count, membership)) if membership else int,
    }


def _open_problem_count(membership) -> int:
    from settle.payments.selectors import open_problem_count

    return open_problem_count(company=membership.company)
