from django.db import connection
from django.http import HttpResponse
from django.urls import path


def hello(request):
    return HttpResponse("Hello, world", content_type="text/plain")


def hello_db(request):
    """The same, after one round trip to the database (SELECT 1)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return HttpResponse("Hello, database", content_type="text/plain")


urlpatterns = [path("", hello), path("db/", hello_db)]
