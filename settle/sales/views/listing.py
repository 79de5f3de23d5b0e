"""Search, status filter, sort and pages of the list views, read from the query string.

Unknown values fall back to the defaults, so an edited or stale URL still shows a list.
"""

from dataclasses import dataclass

PAGE_SIZE = 50
PAGE_MAX = 100_000  # a larger page number shows the last page
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


@dataclass
class Page:
    """One page of a list, found without counting every row: the page is read with one row more
    than it shows, which says whether there is a next page. The total is known only on the last
    page (the rows before it plus its own)."""

    object_list: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def start_index(self) -> int:
        """The 1-based position of the first row shown."""
        return (self.number - 1) * PAGE_SIZE + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + len(self.object_list)

    @property
    def total(self) -> int | None:
        """Every matching row, when this is the last page; None before it."""
        return None if self.has_next else self.end_index


def _page_number(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), PAGE_MAX)


def page_of(queryset, request) -> Page:
    """One page of PAGE_SIZE rows of an ordered queryset (`?page=`, 1 when not a number).

    A page past the end shows the last page: only then are the rows counted, and the count
    reads no more rows than the page asked for would have skipped.
    """
    number = _page_number(request.GET.get("page"))
    offset = (number - 1) * PAGE_SIZE
    rows = list(queryset[offset : offset + PAGE_SIZE + 1])
    if not rows and number > 1:
        number = max(1, -(-queryset.count() // PAGE_SIZE))
        offset = (number - 1) * PAGE_SIZE
        rows = list(queryset[offset : offset + PAGE_SIZE + 1])
    return Page(object_list=rows[:PAGE_SIZE], number=number, has_next=len(rows) > PAGE_SIZE)
