"""Who may do what, decided in one place (C2).

Every view is wrapped in `member_required(level)`: it resolves the signed-in user's
membership in the current company (kept in the session) and refuses anyone below
`level`. Changing anything (any non-GET/HEAD request) needs at least Bookkeeper, so
a Viewer is read-only everywhere without each view having to remember it.

Records are fetched through `access_*` helpers that filter by the membership's
company: another company's id answers 404, the same as an id that does not exist.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect

from settle.core.compiled import CompiledQuery

from .models import LEVEL_RANK, Level, Membership

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SESSION_KEY = "company_id"

# `access_level` values for views that are not about one company's data.
SIGNED_IN = "login"  # any signed-in user, member of a company or not (create/switch company, dev outbox)
PUBLIC = "public"  # anyone (log in, sign up, password reset, invitations, pay pages, webhooks)


def current_membership(request) -> Membership | None:
    """The user's membership in the company kept in the session (else their first one), or None.

    One query fetches all the user's memberships, ordered as the company switcher lists them;
    they are kept on the request as `request.my_memberships` so the switcher needs no query of
    its own. Each carries `open_problem_count`, its company's unresolved payment problems (R3),
    counted in the same query for the navigation's badge.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = _MEMBERSHIPS.all(user_id=user.pk)
    request.my_memberships = memberships
    company_id = request.session.get(SESSION_KEY)
    membership = next((m for m in memberships if m.company_id == company_id), None) if company_id else None
    if membership is None and memberships:
        membership = min(memberships, key=lambda m: (m.created_at, m.pk))
        request.session[SESSION_KEY] = membership.company_id
    return membership


def _memberships(user_id):
    from settle.payments.selectors import open_problem_count_subquery

    return (
        Membership.objects.select_related("company", "company__subscription")
        .filter(user_id=user_id)
        .annotate(open_problem_count=open_problem_count_subquery())
        .order_by("company__name", "company_id")
    )


# Every signed-in page asks it: compiled once (settle/core/compiled.py).
_MEMBERSHIPS = CompiledQuery(_memberships, user_id=int)


def required_level(method: str, level: str) -> str:
    if method.upper() in SAFE_METHODS:
        return level
    return max(level, Level.BOOKKEEPER, key=lambda lv: LEVEL_RANK[Level(lv)])


def member_required(level: str = Level.VIEWER):
    """Allow the view only to members of the current company at `level` or above."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = getattr(request, "membership", None)
            if membership is None:
                return redirect("company_create")
            if not membership.at_least(required_level(request.method, level)):
                raise PermissionDenied("Your access level does not allow this.")
            return view(request, *args, **kwargs)

        wrapped.access_level = level
        return wrapped

    return decorator


def signed_in_required(view):
    """Allow the view to any signed-in user, whatever their memberships.

    Only for pages that do not show or change one company's data: creating a company,
    switching between the user's own companies. Anonymous users go to the login page.
    """
    wrapped = login_required(view)
    wrapped.access_level = SIGNED_IN
    return wrapped


def public(view):
    """Mark a view as open to anyone; it must authorize by other means (a token, a signature)."""
    view.access_level = PUBLIC
    return view


def access_object(queryset, *, membership: Membership, pk, for_update: bool = False):
    """Fetch one row of the membership's company or raise Http404."""
    queryset = queryset.filter(company=membership.company)
    if for_update:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None
