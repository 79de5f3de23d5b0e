from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path


def hello(request):
    return HttpResponse("Hello, world", content_type="text/plain")


def hello_db(request):
    """The same, after one round trip to the database (SELECT 1)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse("Hello, database", content_type="text/plain")


def signed_in_page(request):
    """The least a signed-in list page can do, written by hand: the session's row, the user's row,
    50 invoices of the session's company newest first (by Settle's own index) with their clients'
    names, and a template rendering them in a table. No ORM model, no access rules, no layout."""
    user_id = request.session.get("_auth_user_id")
    company_id = request.session.get("company_id")
    if not user_id or not company_id:
        return HttpResponse("Not signed in", status=403, content_type="text/plain")
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, email, full_name FROM companies_user WHERE id = %s AND is_active", [user_id])
        user = cursor.fetchone()
        if user is None:
            return HttpResponse("Not signed in", status=403, content_type="text/plain")
        cursor.execute(
            "SELECT i.id, i.number, c.name, i.issue_date, i.due_date, i.total, i.balance"
            " FROM sales_invoice i JOIN sales_client c ON c.id = i.client_id"
            " WHERE i.company_id = %s ORDER BY i.issue_date DESC, i.id DESC LIMIT 50",
            [company_id],
        )
        rows = cursor.fetchall()
    return render(request, "page.html", {"user": user, "rows": rows})


urlpatterns = [path("", hello), path("db/", hello_db), path("page/", signed_in_page)]
