import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
pytestmark = pytest.mark.django_db

def test_count(stripe, sent_link, invoice, notify_email):
    with CaptureQueriesContext(connection) as q:
        r = stripe.pay_now(sent_link)
    assert r.status_code == 303
    for x in q.captured_queries: print(x["sql"][:220])
    print(len(q.captured_queries))
