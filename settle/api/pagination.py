"""Cursor pagination for every list: newest first by id, `limit` rows, then `next_cursor`.

A cursor is opaque to clients (base64 of the last id seen); a list read with the cursor
of the previous page never repeats or skips a row, whatever is created meanwhile.
"""

import base64
import binascii
from functools import cache

from ninja import Field, Schema
from pydantic import create_model

from settle.core.errors import SettleError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageParams(Schema):
    cursor: str | None = Field(default=None, max_length=200, description="`next_cursor` of the previous page.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


@cache
def page_of(item_schema):
    return create_model(
        f"{item_schema.__name__.removesuffix('Out')}Page",
        __base__=Schema,
        data=(list[item_schema], ...),
        next_cursor=(str | None, Field(default=None, description="Pass as `cursor` for the next page; null on the last.")),
    )


def _encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{pk}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, pk = raw.split(":", 1)
        if version != "v1" or not pk.isdigit() or len(pk) > 18:
            raise ValueError
        return int(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise SettleError("This cursor is not one the API gave out.", field="cursor") from None


def paginate(queryset, params: PageParams, present) -> dict:
    """One page of `queryset` (re-ordered by id, newest first), each row through `present`."""
    queryset = queryset.order_by("-pk")
    if params.cursor:
        queryset = queryset.filter(pk__lt=_decode(params.cursor))
    rows = list(queryset[: params.limit + 1])
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    return {"data": [present(row) for row in rows], "next_cursor": _encode(rows[-1].pk) if more and rows else None}
