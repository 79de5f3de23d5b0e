"""HTTP for signing up, companies, users, settings and the period lock (C1–C3, L3).

Each view parses, calls one service or selector, and renders or redirects.
"""

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from settle.core.dates import format_date
from settle.core.errors import SettleError
from settle.ledger.services import lock_end_date, set_period_lock

from . import selectors, services
from .access import SESSION_KEY, access_object, member_required, public, signed_in_required
from .forms import (
    AcceptSignupForm,
    CompanyCreateForm,
    CompanySettingsForm,
    DeleteCompanyForm,
    InviteForm,
    LoginForm,
    MemberLevelForm,
    PeriodLockForm,
    QueuedPasswordResetForm,
    SignupForm,
    SwitchCompanyForm,
)
from .models import Invitation, Level, Membership

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _work_in(request, company_id: int) -> None:
    request.session[SESSION_KEY] = company_id


def _add_error(form, exc: SettleError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


# --- Signing up, in and out -------------------------------------------------------------------


@public
def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, company = services.sign_up(
                email=data["email"],
                full_name=data["full_name"],
                password=data["password1"],
                company_name=data["company_name"],
                currency=data["currency"],
                time_zone=data["time_zone"],
            )
        except SettleError as exc:
            _add_error(form, exc)
        else:
            auth_login(request, user, backend=AUTH_BACKEND)
            _work_in(request, company.pk)
            messages.success(request, f"Welcome to Settle. {company.name} is ready.")
            return redirect("dashboard")
    return render(request, "registration/signup.html", {"form": form})


login = public(
    auth_views.LoginView.as_view(
        form_class=LoginForm, template_name="registration/login.html", redirect_authenticated_user=True
    )
)
logout = public(auth_views.LogoutView.as_view())
password_reset = public(
    auth_views.PasswordResetView.as_view(
        form_class=QueuedPasswordResetForm,
        template_name="registration/password_reset_form.html",
        email_template_name="registration/password_reset_email.txt",
        subject_template_name="registration/password_reset_subject.txt",
    )
)
password_reset_done = public(
    auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html")
)
password_reset_confirm = public(
    auth_views.PasswordResetConfirmView.as_view(template_name="registration/password_reset_confirm.html")
)
password_reset_complete = public(
    auth_views.PasswordResetCompleteView.as_view(template_name="registration/password_reset_complete.html")
)


# --- Invitations ------------------------------------------------------------------------------


@public
def invitation_accept(request, token):
    """Anyone holding the link: join when logged in as the invited address, else sign up or log in."""
    invitation = services.find_invitation(token)
    if invitation is None:
        return render(request, "companies/invitation_invalid.html", status=404)
    user = request.user
    context = {"invitation": invitation, "level_label": Level(invitation.level).label}
    if user.is_authenticated:
        context["mismatch"] = user.email.lower() != invitation.email.lower()
        if request.method == "POST" and not context["mismatch"]:
            try:
                services.accept_invitation(invitation=invitation, user=user)
            except SettleError as exc:
                messages.error(request, exc.message)
            else:
                return _joined(request, invitation)
        return render(request, "companies/invitation_accept.html", context)
    if selectors.account_exists(email=invitation.email):
        context["login_url"] = f"{reverse('login')}?next={request.path}"
        return render(request, "companies/invitation_accept.html", context)
    form = AcceptSignupForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.sign_up_and_accept(
                invitation=invitation, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password1"]
            )
        except SettleError as exc:
            _add_error(form, exc)
        else:
            auth_login(request, membership.user, backend=AUTH_BACKEND)
            return _joined(request, invitation)
    context["form"] = form
    return render(request, "companies/invitation_accept.html", context)


def _joined(request, invitation: Invitation):
    _work_in(request, invitation.company_id)
    messages.success(
        request, f"You joined {invitation.company.name} as {Level(invitation.level).label}."
    )
    return redirect("dashboard")


# --- Companies --------------------------------------------------------------------------------


@signed_in_required
def company_create(request):
    form = CompanyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        company = services.create_company(
            creator=request.user,
            name=form.cleaned_data["name"],
            currency=form.cleaned_data["currency"],
            time_zone=form.cleaned_data["time_zone"],
        )
        _work_in(request, company.pk)
        messages.success(request, f"{company.name} is ready.")
        return redirect("dashboard")
    return render(request, "companies/company_create.html", {"form": form})


@signed_in_required
@require_POST
def company_switch(request):
    """Work in another of the user's companies; a company they are not in answers 404."""
    form = SwitchCompanyForm(request.POST)
    if not form.is_valid():
        raise Http404("No such company.")
    membership = (
        selectors.memberships_of_user(user=request.user).filter(company_id=form.cleaned_data["company_id"]).first()
    )
    if membership is None:
        raise Http404("No such company.")
    _work_in(request, membership.company_id)
    messages.success(request, f"You are now working in {membership.company.name}.")
    return redirect("dashboard")


# --- Settings ---------------------------------------------------------------------------------


@member_required(Level.ADMIN)
def settings_index(request):
    company = request.membership.company
    return render(
        request,
        "companies/settings_index.html",
        {
            "subscription": selectors.subscription_state(company=company),
            "lock_end": lock_end_date(company=company),
        },
    )


@member_required(Level.ADMIN)
def company_settings(request):
    company = request.membership.company
    currency_locked = services.has_journal_entries(company)
    form = CompanySettingsForm(
        request.POST or None, request.FILES or None, company=company, currency_locked=currency_locked
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_company(
                company=company,
                name=data["name"],
                currency=data["currency"],
                time_zone=data["time_zone"],
                address=data["address"],
                email=data["email"],
                logo=data.get("logo"),
                clear_logo=data.get("clear_logo", False),
            )
        except SettleError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, "Company settings saved.")
            return redirect("company_settings")
    return render(
        request, "companies/company_settings.html", {"form": form, "currency_locked": currency_locked}
    )


@member_required(Level.CREATOR)
def company_delete(request):
    company = request.membership.company
    form = DeleteCompanyForm(request.POST or None, company=company)
    if request.method == "POST" and form.is_valid():
        name = company.name
        try:
            services.delete_company(company=company, deleted_by=request.membership)
        except SettleError as exc:
            form.add_error(None, exc.message)
        else:
            request.session.pop(SESSION_KEY, None)
            messages.success(request, f"{name} was deleted.")
            return redirect("dashboard")
    return render(
        request,
        "companies/company_delete.html",
        {"form": form, "has_entries": services.has_journal_entries(company)},
    )


@member_required(Level.ADMIN)
def users(request):
    company = request.membership.company
    return render(
        request,
        "companies/users.html",
        {
            "members": selectors.members_of(company=company),
            "invitations": selectors.pending_invitations(company=company),
            "level_choices": MemberLevelForm.base_fields["level"].choices,
        },
    )


@member_required(Level.ADMIN)
def user_invite(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invite_member(
                company=request.membership.company,
                invited_by=request.user,
                email=form.cleaned_data["email"],
                level=form.cleaned_data["level"],
                accept_url=lambda token: request.build_absolute_uri(reverse("invitation_accept", args=[token])),
            )
        except SettleError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("users")
    return render(request, "companies/user_invite.html", {"form": form})


@member_required(Level.ADMIN)
@require_POST
def member_level(request, membership_id):
    member = access_object(Membership.objects.select_related("user"), membership=request.membership, pk=membership_id)
    form = MemberLevelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose Admin, Bookkeeper or Viewer.")
        return redirect("users")
    try:
        services.change_member_level(membership=member, level=form.cleaned_data["level"], changed_by=request.membership)
    except SettleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{member.user} is now {Level(form.cleaned_data['level']).label}.")
    return redirect("users")


@member_required(Level.ADMIN)
@require_POST
def member_remove(request, membership_id):
    member = access_object(Membership.objects.select_related("user"), membership=request.membership, pk=membership_id)
    try:
        services.remove_member(membership=member, removed_by=request.membership)
    except SettleError as exc:
        messages.error(request, exc.message)
        return redirect("users")
    messages.success(request, f"{member.user} was removed from {request.membership.company.name}.")
    if member.pk == request.membership.pk:
        request.session.pop(SESSION_KEY, None)
        return redirect("dashboard")
    return redirect("users")


@member_required(Level.ADMIN)
@require_POST
def invitation_cancel(request, invitation_id):
    invitation = access_object(Invitation.objects.all(), membership=request.membership, pk=invitation_id)
    services.cancel_invitation(invitation=invitation)
    messages.success(request, f"The invitation to {invitation.email} was cancelled.")
    return redirect("users")


@member_required(Level.ADMIN)
def period_lock(request):
    """L3: set or clear the period lock end date (Creator/Admin)."""
    company = request.membership.company
    current = lock_end_date(company=company)
    form = PeriodLockForm(request.POST or None, company=company, initial={"end_date": current})
    if request.method == "POST" and form.is_valid():
        end_date = form.cleaned_data["end_date"]
        set_period_lock(company=company, end_date=end_date, set_by=request.user)
        if end_date is None:
            messages.success(request, "The period lock was cleared.")
        else:
            messages.success(request, f"The books are locked through {format_date(end_date)}.")
        return redirect("period_lock")
    return render(request, "companies/period_lock.html", {"form": form, "current": current})
