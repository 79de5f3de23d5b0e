"""Every link on the main pages leads somewhere (C2, S2, L4): signed in at each access level,
with demo-like books, each same-site link those pages show answers something other than 404,
and each stylesheet, script and icon they load exists."""

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.conf import settings

from settle.companies.access import SESSION_KEY
from settle.companies.models import Level
from tests.demo_books import load_demo_books

pytestmark = pytest.mark.django_db


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        elif tag == "link" and attrs.get("href"):
            self.assets.append(attrs["href"])
        elif tag in ("script", "img") and attrs.get("src"):
            self.assets.append(attrs["src"])


def links_of(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def same_site(page: str, href: str) -> str | None:
    """The path and query of `href` when it stays on this site, else None."""
    if href.startswith(("mailto:", "tel:", "#", "javascript:")):
        return None
    url = urlsplit(urljoin(f"http://testserver{page}", href))
    if url.netloc != "testserver":
        return None
    return url.path + (f"?{url.query}" if url.query else "")


def check_page(client, page: str, seen: dict[str, int], broken: list[str]) -> None:
    response = client.get(page)
    assert response.status_code == 200, f"{page} answered {response.status_code}"
    found = links_of(response.content.decode())
    for asset in found.assets:
        path = same_site(page, asset)
        if path and path.startswith(settings.STATIC_URL) and not finders.find(path[len(settings.STATIC_URL):].split("?")[0]):
            broken.append(f"{page} loads {asset}, which does not exist")
    for href in found.hrefs:
        path = same_site(page, href)
        if path is None or path.startswith(settings.STATIC_URL):
            continue
        if path not in seen:
            seen[path] = client.get(path).status_code
        if seen[path] == 404:
            broken.append(f"{page} links to {href}, which is a 404")


def test_every_link_on_the_main_pages_resolves_at_every_level(client, emulator):  # C2, S2, L4, K2, K3
    books = load_demo_books(emulator=emulator)
    broken: list[str] = []
    seen: dict[str, int] = {}
    for page in books.public_pages().values():
        check_page(client, page, seen, broken)
    for level in (Level.CREATOR, Level.ADMIN, Level.BOOKKEEPER, Level.VIEWER):
        client.force_login(books.users[level])
        session = client.session
        session[SESSION_KEY] = books.company.pk
        session.save()
        seen = {}
        for page in books.pages(level).values():
            check_page(client, page, seen, broken)
        assert len(seen) > 15, level  # the pages do link to each other
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("url_name", ["sales:invoice_detail", "sales:client_detail", "ledger:entry", "ledger:register"])
@pytest.mark.parametrize("script_prefix", ["/", "/books/"])
def test_a_rows_link_is_the_url_its_name_reverses_to(url_name, script_prefix):  # S2, L4
    """The lists' rows link by `url_with_id` (the name reversed once, not per row): the same URL as
    `{% url %}` gives, under any script prefix (Settle served below a path)."""
    from django.urls import reverse, set_script_prefix

    from settle.web.templatetags.navigation import url_with_id

    try:
        set_script_prefix(script_prefix)
        for pk in (1, 42, 9_007_199_254_740_993):
            assert url_with_id(pk, url_name) == reverse(url_name, args=[pk])
            assert url_with_id(str(pk), url_name) == reverse(url_name, args=[pk])
        assert url_with_id(7, url_name).startswith(script_prefix)
    finally:
        set_script_prefix("/")
