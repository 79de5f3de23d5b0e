"""Role × URL × company: every URL of the project, every access level, and a stranger (C2).

For every URL pattern (walked from the root resolver) the table in url_table.py says who
may use it. A URL without an entry fails here, naming it: add the entry (see the
docstring of url_table.py).

Per URL name:
- the view declares exactly the table's level (`access_level`, set by member_required,
  signed_in_required or public) — a view with a looser decorator fails;
- anonymous: member and signed-in views redirect to the login page; public views answer;
- each of Creator, Admin, Bookkeeper, Viewer: GET at or above the level answers (200/302),
  below it 403; POST below max(level, Bookkeeper) is 403 (so a Viewer never changes
  anything), and an empty POST by the lowest allowed level is neither refused nor a 5xx (N4);
- the Creator of another company using this company's ids gets 404.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from settle.api.auth import API_KEY
from settle.companies.access import PUBLIC, SIGNED_IN
from settle.companies.models import LEVEL_RANK, Level

from .url_table import TABLE, Access, World

LEVELS = [Level.CREATOR, Level.ADMIN, Level.BOOKKEEPER, Level.VIEWER]


def walk(patterns, prefix="", namespace=None):
    """Yield (url name, route, callback) for every pattern, recursing into includes."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or namespace
            if pattern.namespace and namespace:
                ns = f"{namespace}:{pattern.namespace}"
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            if pattern.name is None:
                name = f"<unnamed {route}>"
            else:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, route, pattern.callback


# The API's key-authenticated operations have their own matrix (test_api_access_matrix.py).
URLS = {
    name: (route, callback)
    for name, route, callback in walk(get_resolver().url_patterns)
    if getattr(callback, "access_level", None) != API_KEY
}
NAMES = sorted(URLS)


def entry_for(name: str) -> Access:
    entry = TABLE.get(name)
    if entry is None:
        route, _ = URLS[name]
        pytest.fail(
            f"URL {name!r} (/{route}) has no entry in tests/access/url_table.py TABLE. Add one, e.g. "
            f'"{name}": Access(Level.VIEWER, GET_POST, kwargs=lambda w: {{"pk": w.invoice().pk}}),'
        )
    return entry


def is_member_level(level: str) -> bool:
    return level in Level.values


def allows(level_of_user: str, needed: str) -> bool:
    return LEVEL_RANK[Level(level_of_user)] >= LEVEL_RANK[Level(needed)]


def post_level(level: str) -> str:
    return max(level, Level.BOOKKEEPER, key=lambda lv: LEVEL_RANK[Level(lv)])


def url_of(name: str, entry: Access, world: World) -> str:
    return reverse(name, kwargs=entry.kwargs(world) if entry.kwargs else None)


def goes_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


def answered(response) -> bool:
    return response.status_code in (200, 302) and not goes_to_login(response)


# --- the table itself -------------------------------------------------------------------------


def test_every_url_has_an_entry_and_every_entry_a_url():  # C2
    missing = [f"{name} (/{URLS[name][0]})" for name in NAMES if name not in TABLE]
    stale = sorted(set(TABLE) - set(URLS))
    assert not missing, (
        "URLs without an entry in tests/access/url_table.py TABLE (add one per URL name): " + ", ".join(missing)
    )
    assert not stale, "TABLE entries for URL names that no longer exist (remove them): " + ", ".join(stale)


@pytest.mark.parametrize("name", NAMES)
def test_view_declares_the_tables_access_level(name):  # C2
    entry = entry_for(name)
    route, callback = URLS[name]
    declared = getattr(callback, "access_level", None)
    assert declared is not None, (
        f"The view of {name!r} (/{route}) declares no access level: wrap it in member_required(level), "
        f"signed_in_required or public (settle.companies.access)."
    )
    assert declared == entry.level, (
        f"The view of {name!r} declares access_level={declared!r} but the table says {entry.level!r}. "
        "If the view is right, fix the table; if the table is right, the view's decorator is too loose."
    )
    assert set(entry.methods) <= {"GET", "POST"} and entry.methods, f"{name}: methods must be GET and/or POST"


def test_every_non_public_view_is_wrapped_by_member_required():  # C2
    unwrapped = [
        f"{name} (/{route})"
        for name, (route, callback) in URLS.items()
        if getattr(callback, "access_level", None) not in {*Level.values, SIGNED_IN, PUBLIC}
    ]
    assert not unwrapped, "Views not wrapped by member_required / signed_in_required / public: " + ", ".join(unwrapped)


# --- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_anonymous(name, world, client):  # C2
    entry = entry_for(name)
    url = url_of(name, entry, world)
    if entry.level == PUBLIC:
        if "GET" in entry.methods:
            response = client.get(url)
            assert answered(response), f"anonymous GET {url} answered {response.status_code}"
        if "POST" in entry.methods:
            response = client.post(url, {})
            assert response.status_code < 500 and response.status_code != 403, f"anonymous POST {url}: {response.status_code}"
        return
    for method in entry.methods:
        response = client.generic(method, url)
        assert goes_to_login(response), f"anonymous {method} {url} answered {response.status_code}, not the login page"


@pytest.mark.parametrize("name", NAMES)
def test_each_access_level(name, world, sign_in):  # C2
    entry = entry_for(name)
    url = url_of(name, entry, world)
    if entry.level == PUBLIC:
        for level in LEVELS:
            client = sign_in(world.users[level], world.company)
            if "GET" in entry.methods:
                response = client.get(url)
                assert response.status_code < 500 and response.status_code != 403, f"{level} GET {url}: {response.status_code}"
        return

    needed_get = Level.VIEWER if entry.level == SIGNED_IN else entry.level
    needed_post = Level.VIEWER if entry.level == SIGNED_IN else post_level(entry.level)
    for level in LEVELS:
        client = sign_in(world.users[level], world.company)
        response = client.get(url)
        if "GET" in entry.methods:
            if allows(level, needed_get):
                assert answered(response), f"{level} GET {url} answered {response.status_code}; expected 200/302"
            else:
                assert response.status_code == 403, f"{level} GET {url} answered {response.status_code}; expected 403"
        else:
            expected = {405} if allows(level, needed_get) else {403, 405}
            assert response.status_code in expected, f"{level} GET {url} (POST-only) answered {response.status_code}"
        if "POST" in entry.methods and not allows(level, needed_post):
            response = client.post(url, {})
            assert response.status_code == 403, f"{level} POST {url} answered {response.status_code}; expected 403"

    if "POST" in entry.methods:
        # The lowest level allowed to change things, sending an empty form (N4: no 5xx, no refusal).
        client = sign_in(world.users[needed_post], world.company)
        response = client.post(url, {})
        assert response.status_code < 500 and response.status_code not in (403, 405), (
            f"{needed_post} POST {url} (empty form) answered {response.status_code}"
        )


@pytest.mark.parametrize("name", NAMES)
def test_member_of_another_company_gets_404_for_this_companys_ids(name, world, sign_in):  # C2
    entry = entry_for(name)
    if not (entry.kwargs and entry.scoped):
        return  # nothing of Maple Bakery in the URL (or, by a commented reason, not company-scoped)
    url = url_of(name, entry, world)
    other, stranger = world.stranger()
    client = sign_in(stranger, other)
    if "GET" in entry.methods:
        response = client.get(url)
        assert response.status_code == 404, f"stranger GET {url} answered {response.status_code}; expected 404"
    if "POST" in entry.methods:
        response = client.post(url, {})
        assert response.status_code == 404, f"stranger POST {url} answered {response.status_code}; expected 404"


@pytest.mark.parametrize("name", [n for n in NAMES if TABLE.get(n) and TABLE[n].level == SIGNED_IN])
def test_signed_in_views_serve_a_user_without_any_company(name, world, client):  # C1
    from tests import factories

    entry = TABLE[name]
    client.force_login(factories.make_user())
    if entry.kwargs and entry.scoped:  # the URL names Maple Bakery's records: not theirs to see
        assert client.get(url_of(name, entry, world)).status_code == 404
        return
    if "GET" in entry.methods:
        assert answered(client.get(url_of(name, entry, world)))
