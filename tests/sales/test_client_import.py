"""Importing clients from a CSV file over HTTP: preview, per-row errors, one transaction,
clear refusals of wrong files (S1, C2, N4)."""

import base64
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from settle.sales.models import Client
from settle.sales.services.client_imports import MAX_BYTES, MAX_ROWS

from .builders import counts, make_client, make_processor

GOOD = (
    "Name,Email,Address\r\n"
    "Corner Bakery,orders@corner.test,\"12 Bread St\r\nToronto\"\r\n"
    "Zoë’s Bistro,\"a@zoe.test, b@zoe.test\",\r\n"
)
WITH_ERRORS = (
    "Name,Email,Address\n"
    "Corner Bakery,orders@corner.test,12 Bread St\n"
    ",nobody@nowhere.test,\n"  # row 3: no name
    "Grand Hotel,not-an-email,\n"  # row 4: a bad email
    "Taken Ltd,ap@taken.test,\n"  # row 5: exists already
    "Quiet Café,hello@quiet.test,<b>bold</b>\n"  # row 6: markup
    "corner bakery,again@corner.test,\n"  # row 7: same name as row 2
    "\n"
    "Last One,last@one.test,\n"  # row 9 (the blank row 8 is skipped)
)


def upload(client, content, name="clients.csv"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post("/clients/import/", {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def hidden_content(page: str) -> str:
    return re.search(r'name="content" value="([^"]+)"', page)[1]


def test_preview_saves_nothing_then_import_saves_every_row(company, bookkeeper):  # S1
    before = counts()
    response = upload(bookkeeper, "\ufeff" + GOOD)  # a byte-order mark, as Excel writes it, is fine
    page = response.content.decode()
    assert response.status_code == 200
    assert "2 clients ready to import" in page and "Nothing has been saved yet" in page
    assert "Zoë’s Bistro" in page and "12 Bread St<br>Toronto" in page
    assert "Import 2 clients" in page and "Import the" not in page
    assert counts() == before
    response = bookkeeper.post("/clients/import/", {"content": hidden_content(page), "choice": "all"})
    assert response.status_code == 302 and response["Location"] == "/clients/"
    assert "2 clients imported." in bookkeeper.get("/clients/").content.decode()
    bistro = Client.objects.get(company=company, name="Zoë’s Bistro")
    assert bistro.email_list == ["a@zoe.test", "b@zoe.test"] and bistro.default_processor is None
    assert Client.objects.get(company=company, name="Corner Bakery").address == "12 Bread St\r\nToronto"


def test_every_row_error_is_reported_and_nothing_saved(company, bookkeeper):  # S1, N4
    make_client(company, "Taken Ltd")
    before = counts()
    page = upload(bookkeeper, WITH_ERRORS).content.decode()
    assert "2 clients ready to import" in page and "5 rows with errors" in page
    for row, message in (
        ("3", "Enter the client&#x27;s name."),
        ("4", "“not-an-email” is not a valid email address."),
        ("5", "A client named “Taken Ltd” already exists."),
        ("6", "plain text only"),
        ("7", "Row 2 has the same name."),
    ):
        assert re.search(rf"<td class=\"c-row\" data-label=\"Row\">{row}</td>(?:(?!</tr>).)*{re.escape(message)}", page, re.S), (row, message)
    assert "<b>bold</b>" not in page  # echoed input is escaped
    assert "Import the 2 valid rows" in page and "Import 2 clients" not in page
    # "Import all" is refused while rows have errors: the preview again, with the reason.
    response = bookkeeper.post("/clients/import/", {"content": hidden_content(page), "choice": "all"})
    assert response.status_code == 200
    assert "5 rows of the file have errors, so nothing was imported" in response.content.decode()
    assert counts() == before


def test_import_the_valid_rows_skips_the_others(company, bookkeeper):  # S1
    make_client(company, "Taken Ltd")
    page = upload(bookkeeper, WITH_ERRORS).content.decode()
    response = bookkeeper.post("/clients/import/", {"content": hidden_content(page), "choice": "valid"}, follow=True)
    assert "2 clients imported. Skipped rows 3, 4, 5, 6, 7 (errors)." in response.content.decode()
    assert sorted(Client.objects.filter(company=company).values_list("name", flat=True)) == [
        "Corner Bakery", "Last One", "Taken Ltd",
    ]


def test_rows_are_checked_again_when_importing(company, bookkeeper):  # S1, N4
    page = upload(bookkeeper, GOOD).content.decode()
    make_client(company, "Corner Bakery")  # someone adds it between preview and import
    before = counts()
    response = bookkeeper.post("/clients/import/", {"content": hidden_content(page), "choice": "all"})
    html = response.content.decode()
    assert response.status_code == 200 and "1 row of the file has errors, so nothing was imported" in html
    assert "A client named “Corner Bakery” already exists." in html
    assert counts() == before


def test_processor_column_and_other_products_headers(company, bookkeeper):  # S1
    stripe = make_processor(company, "Main Stripe")
    content = (
        "Customer Name;Email Address;Billing Address;Credit Card Processor;Notes\n"  # semicolons, as in many locales
        "Corner Bakery;orders@corner.test;12 Bread St;main stripe;likes rye\n"
        "Grand Hotel;ap@hotel.test;;None;\n"
        "Quiet Café;hello@quiet.test;;Old Stripe;\n"
    )
    page = upload(bookkeeper, content).content.decode()
    assert "Columns read: Name, Email, Address, Credit card processor." in page and "Ignored: Notes." in page
    assert "No connected credit card processor is named “Old Stripe” (Main Stripe)." in page
    bookkeeper.post("/clients/import/", {"content": hidden_content(page), "choice": "valid"})
    assert Client.objects.get(name="Corner Bakery").default_processor == stripe
    assert Client.objects.get(name="Grand Hotel").default_processor is None
    assert not Client.objects.filter(name="Quiet Café").exists()


def test_excel_delimiter_hint_line(company, bookkeeper):  # S1
    page = upload(bookkeeper, "sep=;\r\nName;Email\r\nDupont, Fils & Cie;contact@dupont.test\r\n").content.decode()
    assert "1 client ready to import" in page
    bookkeeper.post("/clients/import/", {"content": hidden_content(page), "choice": "all"})
    assert Client.objects.get(company=company).name == "Dupont, Fils & Cie"


def test_an_export_imports_back_into_another_company(company, member_client):  # S1
    from tests.factories import add_member, make_company

    make_client(company, "=Formula Ltd", emails="a@f.test")
    make_client(company, "Zoë’s Bistro", emails="a@zoe.test, b@zoe.test")
    exported = b"".join(member_client("viewer").get("/clients/export.csv").streaming_content)
    other = make_company(name="Second Books")
    user = add_member(other, level="bookkeeper").user
    client = member_client("viewer")
    client.force_login(user)
    session = client.session
    session["company_id"] = other.pk
    session.save()
    page = upload(client, exported).content.decode()
    assert "Ignored: Currency, Balance due." in page
    client.post("/clients/import/", {"content": hidden_content(page), "choice": "all"})
    theirs = Client.objects.filter(company=other).order_by("name")
    # The neutralising apostrophe stays: a name starting with "=" cannot come back as a formula.
    assert [(c.name, c.emails, c.address) for c in theirs] == [
        ("'=Formula Ltd", "a@f.test", "1 Main St"), ("Zoë’s Bistro", "a@zoe.test, b@zoe.test", "1 Main St"),
    ]


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "clients.xlsx", "This is a spreadsheet workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "clients.xls", "This is a spreadsheet workbook"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "clients.pdf", "This is a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "clients.csv", "it holds binary data"),
        ("Name,Email\nCafé Noir,a@b.test\n".encode("cp1252"), "clients.csv", "The file is not UTF-8 text: line 2"),
        ("Name,Email\nA,a@b.test\n".encode("utf-16"), "clients.csv", "The file is UTF-16 text"),
        (b"Client Code,Phone\n17,555-0100\n", "clients.csv", "The file has no Name column"),
        (b"Name,Client\nA,B\n", "clients.csv", "The file has two Name columns"),
        (b"Name,Email,Address\n", "clients.csv", "has no clients below them"),
        (b"Name,Email\n\"Open quote,a@b.test\n", "clients.csv", "Row 2 is not valid CSV"),
        (b"   \n\n", "clients.csv", "The file is empty."),
        (b"", "clients.csv", "The file is empty."),
        (b"Name\n" + b"x\n" * (MAX_ROWS + 1), "clients.csv", f"more than {MAX_ROWS:,} rows"),
        (b"Name,Address\n" + b"A," + b"x" * MAX_BYTES + b"\n", "clients.csv", "The file is too big (1.0 MB)"),
    ],
)
def test_wrong_files_are_refused_with_a_clear_message(company, bookkeeper, data, name, message):  # N4
    before = counts()
    response = upload(bookkeeper, data, name=name)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page and "Check the file" in page  # the upload form again, with the reason
    assert counts() == before


def test_no_file_and_damaged_previews_are_refused(company, bookkeeper):  # N4
    before = counts()
    assert "Choose a CSV file of clients." in bookkeeper.post("/clients/import/", {}).content.decode()
    for content in ("not base64!", base64.b64encode(b"\xff\xfe\x00junk").decode(), ""):
        response = bookkeeper.post("/clients/import/", {"content": content, "choice": "all"})
        assert response.status_code == 200 and "Check the file" in response.content.decode()
    response = bookkeeper.post("/clients/import/", {"content": base64.b64encode(GOOD.encode()).decode(), "choice": "maybe"})
    assert "Upload the file again" in response.content.decode()
    assert counts() == before


def test_bookkeeper_may_import_viewer_may_not(company, member_client):  # C2
    viewer = member_client("viewer")
    assert viewer.get("/clients/import/").status_code == 403
    assert upload(viewer, GOOD).status_code == 403
    content = base64.b64encode(GOOD.encode()).decode()
    assert viewer.post("/clients/import/", {"content": content, "choice": "all"}).status_code == 403
    assert Client.objects.count() == 0
    assert "Import CSV" not in viewer.get("/clients/").content.decode()
    bookkeeper = member_client("bookkeeper")
    assert "Import CSV" in bookkeeper.get("/clients/").content.decode()
    assert bookkeeper.post("/clients/import/", {"content": content, "choice": "all"}).status_code == 302
    assert Client.objects.filter(company=company).count() == 2
