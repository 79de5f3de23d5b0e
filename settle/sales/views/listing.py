"""Search, status filter, sort and pages of the list views, read from the query string.

Unknown values fall back to the defaults, so an edited or stale URL still shows a list.
"""

from dataclasses import dataclass

from django.core.paginator import Paginator

PAGE_SIZE = 50
SEARCH_MAX = 100


@dataclass(frozen=True)
class Column:
    label: str
    sort: str | None = None  # the sort key; None: not sortable
    num: bool = False
    descending_first: bool = False  # dates and amounts: newest and largest first


@dataclass(frozen=True)
class ListParams:
    search: str
    status: str
    sort: str


def list_params(request, *, statuses, sorts, default_sort: str) -> ListParams:
    # NUL cannot be stored or searched for (PostgreSQL refuses it in a query).
    search = request.GET.get("q", "").replace("\x00", "").strip()[:SEARCH_MAX]
    status = request.GET.get("status", "")
    if status not in statuses:
        status = ""
    sort = request.GET.get("sort", "")
    if sort.removeprefix("-") not in sorts:
        sort = default_sort
    return ListParams(search=search, status=status, sort=sort)


def headers(columns: list[Column], sort: str) -> list[dict]:
    """Each column's label and, when sortable, the sort its link asks for and its aria-sort."""
    current, descending = sort.removeprefix("-"), sort.startswith("-")
    result = []
    for column in columns:
        header = {"label": column.label, "num": column.num, "next": None, "aria_sort": None}
        if column.sort == current:
            header["aria_sort"] = "descending" if descending else "ascending"
            header["next"] = column.sort if descending else f"-{column.sort}"
        elif column.sort is not None:
            header["next"] = f"-{column.sort}" if column.descending_first else column.sort
        result.append(header)
    return result


def page_of(queryset, request):
    """One page of PAGE_SIZE rows; a page number out of range or not a number shows the nearest page."""
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
