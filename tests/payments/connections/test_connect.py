"""Adding credit card processors: Settings > Add-ons > Stripe (P1–P4), through HTTP and the service."""

import logging

import pytest
from django.db import connection

from settle.companies.models import Level
from settle.core.errors import SettleError
from settle.ledger.models import Account, AccountRole, AccountType
from settle.ledger.services import account_for_role
from settle.payments.models import PaymentSettings, Processor
from settle.payments.processors import WEBHOOK_EVENTS, base
from settle.payments.services.connections import connect_stripe_processor

pytestmark = pytest.mark.django_db

NEW_URL = "/settings/add-ons/stripe/new/"
WHERE = "Developers &gt; API keys"


def raw_column(processor_id: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM payments_processor WHERE id = %s", [processor_id])
        return cursor.fetchone()[0]


def post_new(client, *, key, name="Stripe", account=None, company=None):
    account = account or account_for_role(company=company, role=AccountRole.STRIPE_CLEARING)
    return client.post(NEW_URL, {"name": name, "deposit_account": account.pk, "secret_key": key})


def test_add_stripe_processor_via_add_ons(member_client, company, emulator, stripe_key, caplog):  # P1 P2
    caplog.set_level(logging.DEBUG)
    client = member_client(Level.CREATOR)

    addons = client.get("/settings/add-ons/")
    assert addons.status_code == 200
    assert "Add New Credit Card Processor" in addons.content.decode()
    assert f'href="{NEW_URL}"' in addons.content.decode()

    form = client.get(NEW_URL).content.decode()
    for label in ("Processor Name", "Deposit Payments to", "Stripe Live Secret Key", ">Save<"):
        assert label in form
    assert 'type="password"' in form
    assert "Please do not use the test or publishable key." in form
    # Deposit Payments to offers asset accounts only, Stripe Clearing chosen by default.
    clearing = account_for_role(company=company, role=AccountRole.STRIPE_CLEARING)
    assert f'<option value="{clearing.pk}" selected>' in form
    for account in Account.objects.filter(company=company).exclude(type=AccountType.ASSET):
        assert f'<option value="{account.pk}"' not in form
    receivable = account_for_role(company=company, role=AccountRole.RECEIVABLE)
    assert f'<option value="{receivable.pk}"' not in form

    response = post_new(client, key=f"  {stripe_key}\n", name="Stripe", company=company)
    assert response.status_code == 302 and response["Location"] == "/settings/add-ons/"

    processor = Processor.objects.get(company=company)
    assert processor.name == "Stripe"
    assert processor.kind == "stripe"
    assert processor.deposit_account == clearing
    assert processor.secret_key == stripe_key  # whitespace stripped, decrypts to the key
    assert processor.key_last4 == stripe_key[-4:]
    assert processor.account_id.startswith("acct_")
    assert processor.account_name == "Maple Bakery Payments"
    # Encrypted at rest: the column holds ciphertext that neither is nor contains the key.
    stored = raw_column(processor.pk, "secret_key")
    assert stored and stored != stripe_key and stripe_key not in stored
    assert stripe_key[8:] not in stored
    # The first processor becomes the company default (P6).
    assert PaymentSettings.objects.get(company=company).default_processor == processor

    page = client.get("/settings/add-ons/").content.decode()
    assert "Stripe" in page and "Maple Bakery Payments" in page
    assert f"…{stripe_key[-4:]}" in page
    assert stripe_key not in page and stripe_key[:-4] not in page
    assert "Maple Bakery Payments" in page
    assert "is connected" in page  # the success message after the redirect
    edit = client.get(f"/settings/add-ons/{processor.pk}/").content.decode()
    assert stripe_key not in edit and f"…{stripe_key[-4:]}" in edit

    assert stripe_key not in caplog.text
    assert stripe_key[8:] not in caplog.text


@pytest.mark.parametrize(
    "key, says",
    [
        ("pk_live_51HxxxxPUBLISHABLExxxx", "That is a publishable key."),
        ("pk_test_51HxxxxPUBLISHABLExxxx", "That is a publishable key."),
        ("sk_test_51HxxxxTESTxxxxxxxxxxx", "That is a test key"),
        ("rk_test_51HxxxxTESTxxxxxxxxxxx", "That is a test key"),
        ("whsec_abcdefABCDEF0123456789", "That is a webhook signing secret, not an API key."),
        ("hello there", "That is not a Stripe secret key."),
        ("sk_live_", "That is not a Stripe secret key."),
        ("", "Enter your Stripe Live Secret Key"),
    ],
)
def test_wrong_kind_of_key_is_refused_before_asking_stripe(member_client, company, settings, key, says):  # P2
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # asking Stripe would answer "could not be reached"
    client = member_client(Level.ADMIN)
    response = post_new(client, key=key, company=company)
    assert response.status_code == 200
    page = response.content.decode()
    assert says in page
    if key:
        assert "sk_live_" in page and WHERE in page  # says where to find the live secret key
    assert Processor.objects.count() == 0
    assert PaymentSettings.objects.filter(company=company, default_processor__isnull=False).count() == 0
    # The key field is re-rendered empty: a pasted key is never sent back to the browser.
    assert 'name="secret_key"' in page
    if key.strip():
        assert f'value="{key}' not in page
        assert "51Hxxxx" not in page and "abcdefABCDEF" not in page
    assert "could not be reached" not in page  # refused before asking Stripe


def test_unknown_live_key_is_rejected_by_stripe_and_nothing_saved(member_client, company, emulator, caplog):  # P2
    unknown = "sk_live_NotRegisteredWithStripe0000wxyz"
    client = member_client(Level.CREATOR)
    response = post_new(client, key=unknown, company=company)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Stripe rejected this key" in page
    assert "Nothing was saved" in page
    assert unknown not in page
    assert 'value="sk_live_' not in page
    assert Processor.objects.count() == 0
    assert unknown not in caplog.text


def test_revoked_key_is_rejected_and_nothing_saved(company, creator, emulator, stripe_key, stripe_clearing):  # P2
    emulator.revoke_key(stripe_key)
    with pytest.raises(base.KeyRejected) as refused:
        connect_stripe_processor(
            company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key, created_by=creator
        )
    assert "Stripe rejected this key" in refused.value.message
    assert "Expired API Key" in refused.value.message
    assert stripe_key not in refused.value.message
    assert refused.value.field == "secret_key"
    assert Processor.objects.count() == 0


@pytest.mark.parametrize("kind", ["500", "429"])
def test_stripe_failing_saves_nothing_and_says_so(member_client, company, emulator, stripe_key, kind):  # P2 N4
    emulator.add_fault(path="/v1/account", kind=kind, count=5)
    client = member_client(Level.CREATOR)
    response = post_new(client, key=stripe_key, company=company)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Stripe could not be reached. Nothing was saved; try again in a moment." in page
    assert Processor.objects.count() == 0
    assert stripe_key not in page


def test_stripe_unreachable_saves_nothing(company, creator, settings, stripe_clearing):  # P2 N4
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # the discard port: connection refused
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    with pytest.raises(base.ProcessorUnavailable) as failed:
        connect_stripe_processor(
            company=company, name="Stripe", deposit_account=stripe_clearing,
            secret_key="sk_live_unreachable000000000000", created_by=creator,
        )
    assert failed.value.message == "Stripe could not be reached. Nothing was saved; try again in a moment."
    assert Processor.objects.count() == 0


def test_stripe_timeout_saves_nothing(company, creator, settings, emulator, stripe_key, stripe_clearing):  # P2 N4
    settings.STRIPE_TIMEOUT = 0.3
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    emulator.add_fault(path="/v1/account", kind="delay", seconds="1")
    with pytest.raises(base.ProcessorUnavailable):
        connect_stripe_processor(
            company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key, created_by=creator
        )
    assert Processor.objects.count() == 0


def test_one_failed_request_is_retried(company, creator, emulator, stripe_key, stripe_clearing):  # P2
    emulator.add_fault(path="/v1/account", kind="500", count=1)
    processor = connect_stripe_processor(
        company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key, created_by=creator
    )
    assert processor.pk


def test_webhooks_subscribed_when_site_has_public_url(company, creator, settings, emulator, stripe_key, stripe_clearing):  # P3
    settings.PUBLIC_URL = "https://books.example.com"
    processor = connect_stripe_processor(
        company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key, created_by=creator
    )
    endpoints = emulator.webhook_endpoints(stripe_key)
    assert len(endpoints) == 1
    endpoint = endpoints[0]
    assert endpoint["id"] == processor.webhook_endpoint_id
    assert endpoint["url"] == f"https://books.example.com/payments/webhooks/{processor.pk}/"
    assert set(endpoint["enabled_events"]) == set(WEBHOOK_EVENTS)
    assert endpoint["status"] == "enabled"
    # The signing secret is stored encrypted, and it is the one Stripe signs with.
    assert processor.webhook_secret.startswith("whsec_")
    stored = raw_column(processor.pk, "webhook_secret")
    assert processor.webhook_secret not in stored
    refreshed = Processor.objects.get(pk=processor.pk)
    assert refreshed.webhook_secret == processor.webhook_secret


def test_webhook_url_matches_the_webhook_route(company, creator, settings, emulator, stripe_key, stripe_clearing):  # P3
    from django.urls import reverse

    settings.PUBLIC_URL = "https://books.example.com"
    processor = connect_stripe_processor(
        company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key, created_by=creator
    )
    path = reverse("stripe_webhook", kwargs={"processor_id": processor.pk})
    assert emulator.webhook_endpoints(stripe_key)[0]["url"] == "https://books.example.com" + path


def test_no_webhooks_without_public_url(company, creator, settings, emulator, stripe_key, stripe_clearing):  # P3
    settings.PUBLIC_URL = ""
    processor = connect_stripe_processor(
        company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key, created_by=creator
    )
    assert emulator.webhook_endpoints(stripe_key) == []
    assert processor.webhook_endpoint_id == "" and processor.webhook_secret == ""


def test_failed_webhook_subscription_saves_nothing(company, creator, settings, emulator, stripe_key, stripe_clearing):  # P3 N4
    settings.PUBLIC_URL = "https://books.example.com"
    emulator.add_fault(path="/v1/webhook_endpoints", kind="500", count=5)
    with pytest.raises(base.ProcessorUnavailable) as failed:
        connect_stripe_processor(
            company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key, created_by=creator
        )
    assert failed.value.message == (
        "Stripe accepted the key, but subscribing to its webhooks failed, so nothing was saved: "
        "Stripe could not be reached. Try again in a moment."
    )
    assert failed.value.message.lower().count("nothing was saved") == 1
    assert Processor.objects.count() == 0
    assert not PaymentSettings.objects.filter(default_processor__isnull=False).exists()


def _connect_in_thread(company, creator, stripe_key, stripe_clearing):
    """Start connecting in another thread (its own database connection); returns (thread, outcome)."""
    import threading

    from django.db import connections

    outcome = {}

    def run():
        try:
            outcome["processor"] = connect_stripe_processor(
                company=company, name="Stripe", deposit_account=stripe_clearing, secret_key=stripe_key,
                created_by=creator,
            )
        except Exception as exc:  # asserted by the test
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_no_database_transaction_is_held_while_stripe_subscribes_webhooks(
    company, creator, settings, emulator, stripe_key, stripe_clearing
):  # P3 N2 (SQLite: an open write transaction would block every other writer)
    import time

    from settle.companies.models import Company

    settings.PUBLIC_URL = "https://books.example.com"
    emulator.add_fault(path="/v1/webhook_endpoints", kind="delay", seconds="2", method="POST", count=1)
    thread, outcome = _connect_in_thread(company, creator, stripe_key, stripe_clearing)
    time.sleep(0.6)  # the connect is now waiting for Stripe to create the endpoint
    started = time.monotonic()
    Company.objects.filter(pk=company.pk).update(email="books@maple.example")  # any other writer
    assert time.monotonic() - started < 1.0, "a write waited for the Stripe call to finish"
    thread.join(20)
    assert "error" not in outcome, outcome
    processor = Processor.objects.get()
    assert processor.is_connected and processor.webhook_endpoint_id == emulator.webhook_endpoints(stripe_key)[0]["id"]
    assert PaymentSettings.objects.get(company=company).default_processor == processor


@pytest.mark.django_db(transaction=True)
def test_a_save_failing_after_the_subscription_deletes_the_endpoint(
    company, creator, settings, emulator, stripe_key, stripe_clearing
):  # P3 P4 N4
    import time

    settings.PUBLIC_URL = "https://books.example.com"
    emulator.add_fault(path="/v1/webhook_endpoints", kind="delay", seconds="1.5", method="POST", count=1)
    thread, outcome = _connect_in_thread(company, creator, stripe_key, stripe_clearing)
    time.sleep(0.6)
    # Meanwhile another Stripe account is connected under the same name (no webhooks for it).
    other = connect_stripe_processor(company=company, name="Stripe", deposit_account=stripe_clearing,
                                     secret_key=emulator.add_key(), created_by=creator, public_url="")
    thread.join(20)
    assert isinstance(outcome.get("error"), SettleError), outcome
    assert "You already have a processor named Stripe" in outcome["error"].message
    assert list(Processor.objects.all()) == [other]  # nothing of the failed connect was kept
    assert emulator.webhook_endpoints(stripe_key) == []  # its endpoint was deleted at Stripe


def test_two_processors_with_their_own_names(member_client, company, emulator):  # P4
    client = member_client(Level.CREATOR)
    first, second = emulator.add_key(business_name="Bakery Shop"), emulator.add_key(business_name="Bakery Catering")
    assert post_new(client, key=first, name="Stripe Shop", company=company).status_code == 302
    assert post_new(client, key=second, name="Stripe Catering", company=company).status_code == 302
    names = list(Processor.objects.filter(company=company).values_list("name", flat=True))
    assert sorted(names) == ["Stripe Catering", "Stripe Shop"]
    page = client.get("/settings/add-ons/").content.decode()
    assert "Stripe Shop" in page and "Stripe Catering" in page
    # The first stays the company default.
    assert PaymentSettings.objects.get(company=company).default_processor.name == "Stripe Shop"

    duplicate = post_new(client, key=emulator.add_key(), name="stripe shop", company=company)
    assert duplicate.status_code == 200
    assert "You already have a processor named stripe shop" in duplicate.content.decode()
    assert Processor.objects.filter(company=company).count() == 2


def test_name_required_and_at_most_60_characters(member_client, company, emulator, stripe_key):  # P1 N4
    client = member_client(Level.CREATOR)
    assert "Give the processor a name" in post_new(client, key=stripe_key, name="  ", company=company).content.decode()
    too_long = post_new(client, key=stripe_key, name="x" * 61, company=company).content.decode()
    assert "at most 60 characters" in too_long
    assert Processor.objects.count() == 0


def test_deposit_account_must_be_an_asset_of_the_company(member_client, company, emulator, stripe_key):  # P1 N4
    from tests.factories import make_company

    client = member_client(Level.CREATOR)
    sales = account_for_role(company=company, role=AccountRole.SALES)
    other = account_for_role(company=make_company(), role=AccountRole.STRIPE_CLEARING)
    for account in (sales, other):
        response = post_new(client, key=stripe_key, account=account)
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert Processor.objects.count() == 0


def test_service_refuses_deposit_to_a_non_asset_account(company, creator, emulator, stripe_key):  # P1
    from settle.core.errors import SettleError

    with pytest.raises(SettleError) as refused:
        connect_stripe_processor(
            company=company, name="Stripe", deposit_account=account_for_role(company=company, role=AccountRole.SALES),
            secret_key=stripe_key, created_by=creator,
        )
    assert refused.value.field == "deposit_account"
    assert Processor.objects.count() == 0


def test_rename_and_change_deposit_account(member_client, company, processor):  # P1 P4
    client = member_client(Level.ADMIN)
    bank = account_for_role(company=company, role=AccountRole.BANK)
    response = client.post(f"/settings/add-ons/{processor.pk}/", {"name": "Card payments", "deposit_account": bank.pk})
    assert response.status_code == 302
    processor.refresh_from_db()
    assert processor.name == "Card payments" and processor.deposit_account == bank
