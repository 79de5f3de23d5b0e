"""The browsable outbox (E2) of the embedded default, for development.

ACCESS LEVEL: "login" — a signed-in user sees the mail of the companies they belong to
(invoices, payment notifications, invitations they sent) and mail addressed to them
alone (their password resets, invitations they received); nobody reads another
company's mail or another person's reset link. The outbox exists only when
settings.OUTBOX_ENABLED is true (the embedded default and tests); in production it
answers 404.
"""

from functools import wraps

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Length
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from settle.companies.access import SIGNED_IN, signed_in_required

from .models import OutgoingEmail

PAGE_SIZE = 100


def outbox_view(view):
    """404 unless the outbox is enabled; then require a signed-in user (access level SIGNED_IN = "login")."""
    guarded = signed_in_required(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.OUTBOX_ENABLED:
            raise Http404("There is no outbox here.")
        return guarded(request, *args, **kwargs)

    wrapped.access_level = SIGNED_IN  # "login": any signed-in user, see the module docstring
    return wrapped


def visible_to(user):
    """The outgoing mail `user` may read."""
    mine = Q(company__memberships__user=user) | Q(to__iexact=user.email)
    return OutgoingEmail.objects.filter(pk__in=OutgoingEmail.objects.filter(mine).values("pk"))


@outbox_view
def outbox(request):
    emails = visible_to(request.user).only("pk", "to", "subject", "status", "created_at", "sent_at", "attempts")
    page = Paginator(emails, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/outbox.html", {"page": page, "emails": page.object_list})


@outbox_view
def outbox_message(request, pk: int):
    email = get_object_or_404(visible_to(request.user), pk=pk)
    attachments = email.attachments.annotate(size=Length("content")).values("filename", "size")
    return render(request, "notifications/outbox_message.html", {"email": email, "attachments": attachments})
