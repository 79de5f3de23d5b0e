"""Inviting users, accepting at a level, changing levels and removing members (C2)."""

import hashlib
import html
import re

import pytest
from django.urls import reverse

from settle.companies.models import Invitation, Level, Membership, User
from settle.notifications.models import OutgoingEmail
from tests import factories
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def invite(client, email="bo@example.com", level=Level.BOOKKEEPER):
    response = client.post(reverse("user_invite"), {"email": email, "level": level})
    assert response.status_code == 302, response.content.decode()
    mail = OutgoingEmail.objects.filter(to=email).latest("pk")
    return re.search(r"http://testserver(/invitations/\S+/)", mail.body).group(1)


@pytest.mark.parametrize("level", [Level.ADMIN, Level.BOOKKEEPER, Level.VIEWER])
def test_invite_then_new_user_signs_up_and_joins_at_that_level(member_client, company, client, level):  # C2
    link = invite(member_client(Level.ADMIN), level=level)
    invitation = Invitation.objects.get()
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is stored
    assert token not in invitation.token_hash

    client.post(reverse("logout"))
    page = client.get(link)
    assert page.status_code == 200 and "bo@example.com" in page.content.decode()
    response = client.post(link, {"full_name": "Bo Lind", "password1": "rye loaf 5555", "password2": "rye loaf 5555"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    user = User.objects.get(email="bo@example.com")
    assert Membership.objects.get(user=user, company=company).level == level
    assert client.get(reverse("dashboard")).context["company"] == company
    assert client.get(link).status_code == 404  # used once


def test_existing_user_logged_in_as_invited_email_joins(member_client, company, client):  # C1 C2
    other = factories.make_company(name="Other Co")
    user = factories.creator_of(other)
    link = invite(member_client(Level.CREATOR), email=user.email, level=Level.VIEWER)
    client.force_login(user)
    assert "Join Maple Bakery" in client.get(link).content.decode()
    response = client.post(link)
    assert response.status_code == 302
    assert Membership.objects.get(user=user, company=company).level == Level.VIEWER
    assert client.get(reverse("dashboard")).context["company"] == company  # switched to the new company


def test_existing_user_anonymous_is_asked_to_log_in(member_client, client):  # C2
    user = factories.make_user(email="kim@example.com")
    link = invite(member_client(Level.ADMIN), email=user.email)
    client.post(reverse("logout"))
    page = client.get(link).content.decode()
    assert "Log in to accept" in page
    client.post(link, {"full_name": "Fake", "password1": "x", "password2": "x"})
    assert not Membership.objects.filter(user=user).exists()


def test_invitation_for_another_email_does_not_join_logged_in_user(member_client, client):  # C2
    link = invite(member_client(Level.ADMIN), email="bo@example.com")
    stranger = factories.make_user(email="eve@example.com")
    client.force_login(stranger)
    assert "but you are logged in as eve@example.com" in client.get(link).content.decode()
    client.post(link)
    assert not Membership.objects.filter(user=stranger).exists()


def test_bad_invitation_token_is_404(client, db):  # C2
    assert client.get(reverse("invitation_accept", args=["nonsense"])).status_code == 404


@pytest.mark.parametrize(
    "data, field",
    [
        ({"email": "", "level": Level.VIEWER}, "email"),
        ({"email": "not an email", "level": Level.VIEWER}, "email"),
        ({"email": "x@example.com", "level": Level.CREATOR}, "level"),
        ({"email": "x@example.com", "level": "owner"}, "level"),
    ],
)
def test_invite_bad_input_inline_error_nothing_saved(member_client, data, field):  # N4 C2
    response = member_client(Level.ADMIN).post(reverse("user_invite"), data)
    assert response.status_code == 200 and response.context["form"].errors[field]
    assert not Invitation.objects.exists() and not OutgoingEmail.objects.exists()


def test_inviting_an_existing_member_is_refused(member_client, company, creator):  # C2 N4
    response = member_client(Level.ADMIN).post(reverse("user_invite"), {"email": creator.email, "level": Level.VIEWER})
    assert "already a member" in " ".join(response.context["form"].errors["email"])
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("level", [Level.BOOKKEEPER, Level.VIEWER])
def test_only_creator_and_admin_invite(member_client, level):  # C2
    response = member_client(level).post(reverse("user_invite"), {"email": "x@example.com", "level": Level.VIEWER})
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_users_page_lists_members_and_levels(member_client, company, creator):  # C2
    bookkeeper = factories.add_member(company, level=Level.BOOKKEEPER)
    page = member_client(Level.ADMIN).get(reverse("users")).content.decode()
    assert creator.email in page and bookkeeper.user.email in page
    assert "Bookkeeper" in page and "Creator" in page


def test_admin_changes_level_and_removes_member(member_client, company):  # C2
    client = member_client(Level.ADMIN)
    member = factories.add_member(company, level=Level.VIEWER)
    client.post(reverse("member_level", args=[member.pk]), {"level": Level.BOOKKEEPER})
    member.refresh_from_db()
    assert member.level == Level.BOOKKEEPER
    client.post(reverse("member_remove", args=[member.pk]))
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert User.objects.filter(pk=member.user_id).exists()


@pytest.mark.parametrize("actor", [Level.CREATOR, Level.ADMIN])
def test_nobody_changes_or_removes_the_creator_nor_makes_a_creator(member_client, company, creator, actor):  # C2
    client = member_client(actor)
    creator_membership = Membership.objects.get(user=creator, company=company)
    response = client.post(reverse("member_level", args=[creator_membership.pk]), {"level": Level.VIEWER}, follow=True)
    assert "Nobody can change or remove the company's Creator." in html.unescape(response.content.decode())
    client.post(reverse("member_remove", args=[creator_membership.pk]))
    creator_membership.refresh_from_db()
    assert creator_membership.level == Level.CREATOR

    member = factories.add_member(company, level=Level.VIEWER)
    client.post(reverse("member_level", args=[member.pk]), {"level": Level.CREATOR})
    member.refresh_from_db()
    assert member.level == Level.VIEWER
    assert Membership.objects.filter(company=company, level=Level.CREATOR).count() == 1


def test_members_of_another_company_are_404(member_client, company):  # C2
    other_member = factories.add_member(factories.make_company(), level=Level.VIEWER)
    client = member_client(Level.ADMIN)
    assert client.post(reverse("member_level", args=[other_member.pk]), {"level": Level.ADMIN}).status_code == 404
    assert client.post(reverse("member_remove", args=[other_member.pk])).status_code == 404
    other_member.refresh_from_db()
    assert other_member.level == Level.VIEWER


def test_cancelled_invitation_no_longer_works(member_client, client):  # C2
    admin = member_client(Level.ADMIN)
    link = invite(admin)
    admin.post(reverse("invitation_cancel", args=[Invitation.objects.get().pk]))
    admin.post(reverse("logout"))
    assert client.get(link).status_code == 404


def test_login_then_accept_keeps_next(member_client, company, client):  # C2
    user = factories.make_user(email="kim@example.com")
    link = invite(member_client(Level.ADMIN), email=user.email, level=Level.BOOKKEEPER)
    client.post(reverse("logout"))
    response = client.post(f"{reverse('login')}?next={link}", {"username": user.email, "password": PASSWORD, "next": link})
    assert response["Location"] == link
    client.post(link)
    assert Membership.objects.get(user=user, company=company).level == Level.BOOKKEEPER


def test_invitation_expires_after_14_days(member_client, client):  # C2
    import datetime as dt

    from django.utils import timezone

    link = invite(member_client(Level.ADMIN))
    Invitation.objects.update(created_at=timezone.now() - dt.timedelta(days=15))
    client.post(reverse("logout"))
    response = client.get(link)
    assert response.status_code == 404 and "not valid" in response.content.decode()
    client.post(link, {"full_name": "Bo", "password1": "rye loaf 5555", "password2": "rye loaf 5555"})
    assert not User.objects.filter(email="bo@example.com").exists()


def test_reinviting_replaces_the_earlier_invitation(member_client, client):  # C2
    admin = member_client(Level.ADMIN)
    first = invite(admin, level=Level.VIEWER)
    second = invite(admin, level=Level.ADMIN)
    assert Invitation.objects.count() == 1
    admin.post(reverse("logout"))
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
