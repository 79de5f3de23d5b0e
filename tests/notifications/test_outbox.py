"""The browsable outbox of the embedded default (E2)."""

import pytest

from settle.notifications import worker
from settle.notifications.models import OutgoingEmail
from settle.notifications.services import queue_email
from settle.notifications.views import outbox, outbox_message

pytestmark = pytest.mark.django_db

BODY = (
    "Dear Ada,\n\nYour invoice 1001 is ready: http://127.0.0.1:8000/pay/Zx9_token/\n"
    "Questions? <script>alert(1)</script> & thanks."
)


@pytest.fixture
def outbox_backend(settings):
    settings.EMAIL_BACKEND = "settle.notifications.backends.OutboxBackend"


def test_outbox_lists_sent_queued_and_failed_mail(member_client, company, outbox_backend):  # E2
    queue_email(key="a", to="ada@example.com", subject="Invoice 1001 from Maple Bakery", body=BODY, company=company)
    worker.send_due()
    queue_email(key="b", to="bob@example.com", subject="Invoice 1002 from Maple Bakery", body="x", company=company)
    failed = queue_email(key="c", to="cy@example.com", subject="Payment problem", body="x", company=company)
    OutgoingEmail.objects.filter(pk=failed.pk).update(status=OutgoingEmail.Status.FAILED, attempts=12)

    page = member_client().get("/outbox/")

    assert page.status_code == 200
    text = page.content.decode()
    for expected in ("ada@example.com", "Invoice 1001 from Maple Bakery", "Sent",
                     "bob@example.com", "Invoice 1002 from Maple Bakery", "Queued",
                     "Payment problem", "Failed"):
        assert expected in text


def test_message_page_links_the_url_and_escapes_the_rest(member_client, company, outbox_backend):  # E2
    email = queue_email(key="a", to="ada@example.com", subject="Invoice 1001 from Maple Bakery", body=BODY, company=company)
    worker.send_due()

    page = member_client().get(f"/outbox/{email.pk}/")

    assert page.status_code == 200
    text = page.content.decode()
    assert '<a href="http://127.0.0.1:8000/pay/Zx9_token/"' in text  # the link a customer would get
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "ada@example.com" in text


def test_outbox_needs_a_signed_in_user(client):  # E2
    email = queue_email(key="a", to="ada@example.com", subject="Secret subject", body=BODY)
    for url in ("/outbox/", f"/outbox/{email.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "Secret subject" not in response.content.decode()
    assert outbox.access_level == outbox_message.access_level == "login"


def test_outbox_is_404_when_disabled(member_client, settings):  # E2
    settings.OUTBOX_ENABLED = False
    email = queue_email(key="a", to="ada@example.com", subject="Invoice", body=BODY)
    c = member_client()
    assert c.get("/outbox/").status_code == 404
    assert c.get(f"/outbox/{email.pk}/").status_code == 404


def test_unknown_message_is_404(member_client):  # E2
    assert member_client().get("/outbox/999999/").status_code == 404


def test_nobody_reads_another_companys_mail_or_another_persons_reset_link(member_client, company, client):  # E2, C2
    from tests import factories

    ours = queue_email(key="ours", to="ada@example.com", subject="Invoice of Maple Bakery", body=BODY, company=company)
    other_company = factories.make_company(name="Other Co")
    theirs = queue_email(key="theirs", to="x@example.com", subject="Invoice of Other Co", body=BODY, company=other_company)
    reset = queue_email(key="reset", to="someone.else@example.com", subject="Reset your password", body=BODY)

    web = member_client()
    own_reset = queue_email(key="own", to=factories.creator_of(company).email, subject="Your reset", body=BODY)
    listing = web.get("/outbox/").content.decode()
    assert "Invoice of Maple Bakery" in listing and "Your reset" in listing
    assert "Invoice of Other Co" not in listing and "Reset your password" not in listing
    assert web.get(f"/outbox/{ours.pk}/").status_code == 200
    assert web.get(f"/outbox/{own_reset.pk}/").status_code == 200
    assert web.get(f"/outbox/{theirs.pk}/").status_code == 404
    assert web.get(f"/outbox/{reset.pk}/").status_code == 404
