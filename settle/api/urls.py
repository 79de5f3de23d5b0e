"""/api/v1/: the API's own paths (each view wrapped by `gateway.api_view`) and a 404 for the rest."""

from django.shortcuts import redirect
from django.urls import URLPattern, re_path

from settle.companies.access import public

from .api import api
from .auth import API_KEY
from .gateway import api_view, not_found

PUBLIC_NAMES = {"openapi-json", "openapi-view", "api-root"}


def _to_docs(request, **kwargs):
    return redirect("api_v1:openapi-view")


def _wrapped(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            callback = api_view(pattern.callback if pattern.name != "api-root" else _to_docs)
            if pattern.name in PUBLIC_NAMES:
                public(callback)  # the schema and its reference page: no key needed
            else:
                callback.access_level = API_KEY
            pattern.callback = callback
    return patterns


_patterns, _app_name, _namespace = api.urls
# Any other path under /api/v1/ answers a 404 problem (the API matrix checks it with every key).
urlpatterns = _wrapped(list(_patterns)) + [
    re_path(r"^(?P<rest>.*)$", api_view(not_found), name="not_found"),
]
urlpatterns[-1].callback.access_level = API_KEY
app_name = _namespace
